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
# Real parts for tests/pacs: dciodvfy (dicom3tools) checks the SEG and SR, Orthanc plays the PACS.
if ! command -v dciodvfy >/dev/null 2>&1 || ! command -v Orthanc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dicom3tools orthanc >/dev/null) \
      || echo "warning: could not install dicom3tools/orthanc; the PACS tests that need them will be skipped"
  else
    echo "warning: dicom3tools/orthanc missing and not root; the PACS tests that need them will be skipped"
  fi
fi

if ! command -v storescu >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dcmtk >/dev/null) \
      || echo "warning: could not install Debian's dcmtk; DICOM network tests will be skipped"
  else
    echo "warning: dcmtk missing and not root; DICOM network tests will be skipped"
  fi
fi

.venv/bin/ruff check .
if command -v node >/dev/null 2>&1; then
  node --test tests/frontend/
fi
.venv/bin/python -m pytest "$@"
