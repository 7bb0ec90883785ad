#!/usr/bin/env bash
# One command to run the whole test suite on a fresh machine (lint, JS unit tests, pytest).
# Uses PostgreSQL/Redis when DATABASE_URL / CELERY_BROKER_URL are set, else SQLite and the file broker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install Debian's chromium; browser tests will be skipped"
  else
    echo "warning: chromium missing and not root; browser tests will be skipped"
  fi
fi

.venv/bin/ruff check .
if command -v node >/dev/null 2>&1; then
  node --test tests/frontend/
fi
.venv/bin/python -m pytest "$@"
