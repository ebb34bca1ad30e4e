#!/usr/bin/env bash
# Sets everything up (setup.sh) and starts Werkcentrum Gids on this machine with its embedded
# defaults: one action server (port 5055), one Rasa server (port 5005, REST and socket.io), the
# worker that notifies partners (gids worker), the staff console (port 8080), the web chat demo
# page (port 8000),
# SQLite for the conversations (var/tracker.db). In a terminal you can chat with it right away.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh

RASA_PORT="${GIDS_RASA_PORT:-5005}"
CONSOLE_PORT="${GIDS_CONSOLE_PORT:-8080}"
WEBCHAT_PORT="${GIDS_WEBCHAT_PORT:-8000}"
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore::DeprecationWarning
mkdir -p var/log

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
trap 'stop; exit 130' INT TERM

printf '\n==> Starting the action server (log: var/log/actions.log)\n'
.venv/bin/rasa run actions --port 5055 --actions actions --logging-config-file config/logging.yml >var/log/actions.log 2>&1 &
pids+=($!)

printf '==> Starting the worker: partner notifications and the daily purge (log: var/log/worker.log)\n'
.venv/bin/gids worker >var/log/worker.log 2>&1 &
pids+=($!)

printf '==> Starting the staff console on port %s (log: var/log/console.log)\n' "$CONSOLE_PORT"
.venv/bin/gids console --port "$CONSOLE_PORT" >var/log/console.log 2>&1 &
pids+=($!)

printf '==> Starting the web chat demo page on port %s (log: var/log/webchat.log)\n' "$WEBCHAT_PORT"
.venv/bin/gids webchat --port "$WEBCHAT_PORT" --rasa-url "http://localhost:$RASA_PORT" >var/log/webchat.log 2>&1 &
pids+=($!)

printf '==> Starting the Rasa server on port %s (log: var/log/rasa.log)\n' "$RASA_PORT"
.venv/bin/rasa run --model models/gids.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  --port "$RASA_PORT" --enable-api --cors "*" --logging-config-file config/logging.yml >var/log/rasa.log 2>&1 &
pids+=($!)

# In the background and waited for, so Ctrl-C or a TERM stops everything at once, also while the
# Rasa server is still loading (bash runs traps only between foreground commands).
.venv/bin/python - "$RASA_PORT" <<'PY' &
import sys, time, urllib.request
url = f"http://localhost:{sys.argv[1]}/status"
for _ in range(240):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(1)
sys.exit("the Rasa server did not come up within 4 minutes; see var/log/rasa.log")
PY
ready=$!
pids+=("$ready")
wait "$ready"

cat <<TXT

Werkcentrum Gids is running.
  REST:      curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"test","message":"ik heb schulden"}'
  Terminal:  .venv/bin/gids chat --url http://localhost:$RASA_PORT
  Web chat:  http://localhost:$WEBCHAT_PORT  (demo page with the widget)
  Console:   http://localhost:$CONSOLE_PORT  (first user: .venv/bin/gids user add NAME --role admin)
Stop with Ctrl-C.
TXT

if [ -t 0 ]; then
  .venv/bin/gids chat --url "http://localhost:$RASA_PORT" || true
else
  wait -n
fi
