#!/bin/sh
# Waits for the database, migrates (web only; `migrate_locked` holds a PostgreSQL advisory lock so
# several web containers starting together take turns), then starts web, worker or beat.
set -e

python - <<'PY'
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clearinghouse.settings")
django.setup()
from django.db import connection
for attempt in range(60):
    try:
        connection.ensure_connection()
        sys.exit(0)
    except Exception as exc:
        print(f"waiting for the database ({exc.__class__.__name__})", flush=True)
        time.sleep(2)
sys.exit("database unreachable")
PY

case "$1" in
  web)
    python manage.py migrate_locked
    # gthread workers on one shared socket, each new connection taken by the worker that holds the
    # fewest (clearinghouse/server.py); not --reuse-port, whose kernel hash can put most of a
    # partner's keep-alive connections on one worker while the other idles.
    # Each worker keeps to a CPU of its own where that crowds nothing else (WEB_CPU_PINNING=auto:
    # as many workers as CPUs the container may use).
    exec gunicorn clearinghouse.wsgi:application --bind 0.0.0.0:8000 \
      --workers "${WEB_WORKERS:-2}" --threads "${WEB_THREADS:-6}" \
      --worker-class clearinghouse.server.BalancedThreadWorker \
      --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}"
    ;;
  worker)
    exec celery -A clearinghouse worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-4}"
    ;;
  beat)
    exec celery -A clearinghouse beat --loglevel "${LOG_LEVEL:-INFO}" --pidfile=
    ;;
  *)
    exec "$@"
    ;;
esac
