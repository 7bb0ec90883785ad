#!/usr/bin/env bash
# One command to run petctweb on a fresh machine: set-up, demo data, web server and a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEBUG=${DEBUG:-1}

PORT=${PORT:-8000}
PY=.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput --verbosity 0
$PY manage.py seed_demo
mkdir -p var/log
.venv/bin/celery -A petctweb worker -Q default,gpu --concurrency 1 --loglevel INFO >var/log/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "petctweb is running at http://127.0.0.1:${PORT}/  (worker log: var/log/worker.log; Ctrl+C stops both)"
echo
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload
