#!/usr/bin/env bash
# One command to run petctweb on a fresh machine: set-up, demo data, web server and a worker.
# Production serving by default: gunicorn, DEBUG=0, whitenoise serving hashed static files.
# `DEBUG=1 bash scripts/run.sh` runs Django's development server instead (debug pages, code reload off).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEBUG=${DEBUG:-0}
if [ "$DEBUG" = "0" ]; then
  export PETCTWEB_STATIC_HASHED=${PETCTWEB_STATIC_HASHED:-1}
fi

PORT=${PORT:-8000}
BIND=${BIND:-127.0.0.1:${PORT}}
PY=.venv/bin/python
CORES=$(nproc 2>/dev/null || echo 2)
# gunicorn's rule of thumb, capped so a big machine does not start dozens of model-free but DB-holding workers
WEB_WORKERS=${WEB_WORKERS:-$(( 2 * CORES + 1 > 9 ? 9 : 2 * CORES + 1 ))}

# The web server, the listener and the workers share these cores: one torch thread per worker process
# (measured on 2 busy cores: network 1.2 s with one thread, 13.8 s with two spinning against each other).
if [ "$CORES" -le 4 ]; then
  export PETCTWEB_CPU_THREADS=${PETCTWEB_CPU_THREADS:-1}
fi

$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput --verbosity 0
$PY manage.py seed_demo
mkdir -p var/log
.venv/bin/celery -A petctweb worker -Q default,gpu --concurrency 1 --loglevel INFO -n main@%h >var/log/worker.log 2>&1 &
WORKER=$!
# Training on its own worker and queue: a retraining job never holds up an inference.
.venv/bin/celery -A petctweb worker -Q training --concurrency 1 --loglevel INFO -n training@%h \
  >var/log/worker-training.log 2>&1 &
TRAINING_WORKER=$!
# The DICOM receiver (C-STORE SCP) on port 11112, for dcmtk's storescu/echoscu on this machine by default.
PETCTWEB_DICOM_ALLOWED_AES=${PETCTWEB_DICOM_ALLOWED_AES-STORESCU,ECHOSCU} $PY manage.py dicom_listener \
  >var/log/dicom.log 2>&1 &
LISTENER=$!
trap 'kill $WORKER $TRAINING_WORKER $LISTENER 2>/dev/null || true' EXIT INT TERM
echo
echo "petctweb is running at http://${BIND}/  (worker logs: var/log/worker*.log; DICOM on port ${PETCTWEB_DICOM_PORT:-11112}, log var/log/dicom.log; Ctrl+C stops all)"
echo
if [ "$DEBUG" = "0" ]; then
  # gthread: a few threads per worker keep large volume downloads from blocking quick API calls;
  # the config loads the app and its views once before forking (no worker's first requests wait ~10 s)
  .venv/bin/gunicorn petctweb.wsgi -c scripts/gunicorn.conf.py --bind "$BIND" --workers "$WEB_WORKERS" --worker-class gthread --threads 4 \
    --timeout 300 --graceful-timeout 30 --access-logfile var/log/access.log --error-logfile - \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
else
  $PY manage.py runserver "$BIND" --noreload
fi
