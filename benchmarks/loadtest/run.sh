#!/usr/bin/env bash
# Load test: gunicorn (production settings) on PostgreSQL; locust readers arriving SPAWN_RATE per second,
# one uploader and one exporting administrator, for DURATION; loopback only; stops by itself.
# Prints API p50/p95/p99 per endpoint, errors, calls submitted vs stored, volume MB/s, machine load.
#   bash benchmarks/loadtest/run.sh
#   (READERS=100 SPAWN_RATE=2 DURATION=270s CASES=4 UPLOADS=4 SIZE=full PG=postgres://postgres@127.0.0.1:5432
#    ADMINS=1 WEB_WORKERS=2*cores+1 WEB_THREADS=4)
set -euo pipefail
cd "$(dirname "$0")/../.."
READERS=${READERS:-100}
SPAWN_RATE=${SPAWN_RATE:-2}
DURATION=${DURATION:-270s}
CASES=${CASES:-4}
UPLOADS=${UPLOADS:-4}
SIZE=${SIZE:-full}
ADMINS=${ADMINS:-1}  # 0: readers only, no uploader and no exporting administrator
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=${OUT:-var/loadtest}
PY=.venv/bin/python
CORES=$(nproc 2>/dev/null || echo 2)
WORKERS=${WEB_WORKERS:-$(( 2 * CORES + 1 > 9 ? 9 : 2 * CORES + 1 ))}
THREADS=${WEB_THREADS:-4}
PORT=${PORT:-$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")}
case "$DURATION" in *s) SECONDS_MAX=${DURATION%s} ;; *m) SECONDS_MAX=$(( ${DURATION%m} * 60 )) ;; *) SECONDS_MAX=$DURATION ;; esac
if [ "$SECONDS_MAX" -gt 1800 ]; then echo "DURATION at most 30 minutes" >&2; exit 2; fi

rm -rf "$OUT"
mkdir -p "$OUT"
# As deployed: uploads are ingested and study reports computed by a Celery worker, not the web workers.
export DATABASE_URL="$PG/petctweb_load" DEBUG=0 PETCTWEB_STATIC_HASHED=1 PETCTWEB_AUTO_INFERENCE=1
export PETCTWEB_BROKER_DIR="$PWD/$OUT/broker"  # this run's own queue: no stale messages, no other worker
export MEDIA_ROOT="$PWD/$OUT/media" STATIC_ROOT="$PWD/$OUT/static" LOG_LEVEL=WARNING
$PY - <<PYEOF
import psycopg
with psycopg.connect("$PG/postgres", autocommit=True) as conn:
    conn.execute("DROP DATABASE IF EXISTS petctweb_load WITH (FORCE)")
    conn.execute("CREATE DATABASE petctweb_load")
PYEOF
$PY manage.py migrate --noinput -v 0
# The seed registers no model (its guard wants inference off while seeding): imported uploads ask for
# a run of the default model as deployed, and with none registered they wait for one; no inference CPU.
PETCTWEB_AUTO_INFERENCE=0 $PY manage.py loadtest_seed "$OUT/plan.json" --readers "$READERS" --cases "$CASES" --uploads "$UPLOADS" --size "$SIZE"
STUDY=$($PY -c "import json; print(json.load(open('$OUT/plan.json'))['study_id'])")
# Right before gunicorn: every static file (also one added a minute ago) is in the hashed manifest.
$PY manage.py collectstatic --noinput --clear -v 0

.venv/bin/gunicorn petctweb.wsgi -c scripts/gunicorn.conf.py --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  --worker-class gthread --threads "$THREADS" --timeout 120 --error-logfile "$OUT/gunicorn.log" --log-level warning &
GUNICORN=$!
# Niced: background ingest and statistics yield the shared cores to the web tier's requests.
nice -n 10 .venv/bin/celery -A petctweb worker -Q default,gpu --concurrency 1 --prefetch-multiplier 1 -n load@%h \
  --loglevel WARNING >"$OUT/worker.log" 2>&1 &
WORKER=$!
trap 'kill $GUNICORN $WORKER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 120); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/accounts/login/" && break; sleep 1; done

echo "load before: $(cat /proc/loadavg)"
( sleep $(( SECONDS_MAX / 2 )); echo "load at half time: $(cat /proc/loadavg)" ) &
export PYTHONPATH=. LOADTEST_ADMINS="$ADMINS" LOADTEST_PLAN="$OUT/plan.json" LOADTEST_SUMMARY="$OUT/summary.json"
timeout $(( SECONDS_MAX + 120 )) /usr/bin/time -o "$OUT/locust-cpu.txt" \
  -f "locust (the client, same cores): %U s user + %S s system CPU" \
  .venv/bin/locust -f benchmarks/loadtest/locustfile.py --headless --host "http://127.0.0.1:$PORT" \
  -u $((READERS + 2 * ADMINS)) -r "$SPAWN_RATE" -t "$DURATION" --stop-timeout 30 --only-summary --csv "$OUT/locust" \
  --loglevel WARNING >"$OUT/locust.log" 2>&1 || true   # exits 1 when a request failed; the report counts them
echo "load after: $(cat /proc/loadavg)"
echo "gunicorn workers CPU: $(ps -o cputime= --ppid $GUNICORN | tr '\n' ' ')(h:m:s each)"
echo "celery worker CPU: $(ps -o cputime= -p $WORKER --ppid $WORKER | tr '\n' ' ')(h:m:s: main, pool)"
cat "$OUT/locust-cpu.txt" 2>/dev/null || true
sleep 20  # in-flight submits land; the worker finishes the last ingest (off the web workers)
$PY manage.py shell -c "from django.db.models import Count; from cases.models import UploadSession as U
print('uploads (async, ingested by the worker):', dict(U.objects.values_list('state').annotate(n=Count('id'))))"
$PY manage.py loadtest_report "$OUT/summary.json" --study "$STUDY"
echo "gunicorn: $WORKERS workers x $THREADS threads (gthread) on $CORES cores; details in $OUT/"
