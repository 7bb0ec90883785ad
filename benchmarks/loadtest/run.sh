#!/usr/bin/env bash
# Load test: gunicorn (production settings) on PostgreSQL, 100 locust readers + 1 uploader + 1 exporting
# administrator for DURATION, loopback only. Prints API p50/p95, errors, calls stored vs submitted, volume MB/s.
#   bash benchmarks/loadtest/run.sh            (READERS=100 DURATION=90s PG=postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/../.."
READERS=${READERS:-100}
DURATION=${DURATION:-90s}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=${OUT:-var/loadtest}
PY=.venv/bin/python
CORES=$(nproc 2>/dev/null || echo 2)
WORKERS=${WEB_WORKERS:-$(( 2 * CORES + 1 > 9 ? 9 : 2 * CORES + 1 ))}
PORT=${PORT:-$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")}

mkdir -p "$OUT"
export DATABASE_URL="$PG/petctweb_load" DEBUG=0 PETCTWEB_STATIC_HASHED=1 PETCTWEB_AUTO_INFERENCE=0
export MEDIA_ROOT="$PWD/$OUT/media" STATIC_ROOT="$PWD/$OUT/static" LOG_LEVEL=WARNING
$PY - <<PYEOF
import psycopg
with psycopg.connect("$PG/postgres", autocommit=True) as conn:
    conn.execute("DROP DATABASE IF EXISTS petctweb_load WITH (FORCE)")
    conn.execute("CREATE DATABASE petctweb_load")
PYEOF
rm -rf "$MEDIA_ROOT"
$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
$PY manage.py loadtest_seed "$OUT/plan.json" --readers "$READERS"
STUDY=$($PY -c "import json; print(json.load(open('$OUT/plan.json'))['study_id'])")

.venv/bin/gunicorn petctweb.wsgi --bind "127.0.0.1:$PORT" --workers "$WORKERS" --worker-class gthread --threads 4 \
  --timeout 120 --error-logfile "$OUT/gunicorn.log" --log-level warning &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 60); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/accounts/login/" && break; sleep 1; done

LOADTEST_PLAN="$OUT/plan.json" LOADTEST_SUMMARY="$OUT/summary.json" .venv/bin/locust \
  -f benchmarks/loadtest/locustfile.py --headless --host "http://127.0.0.1:$PORT" \
  -u $((READERS + 2)) -r "${SPAWN_RATE:-20}" -t "$DURATION" --stop-timeout 20 --only-summary --csv "$OUT/locust" \
  --loglevel WARNING || true   # locust exits 1 when any request failed; the report says how many
sleep 2  # let in-flight submits land before counting
$PY manage.py loadtest_report "$OUT/summary.json" --study "$STUDY"
echo "gunicorn: $WORKERS workers x 4 threads on $CORES cores; details in $OUT/"
