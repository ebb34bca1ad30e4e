#!/usr/bin/env bash
# Sets everything up (setup.sh) and starts Werkcentrum Gids on this machine with its embedded
# defaults (SQLite, one process each). Two runtimes (README: "Two runtimes"):
# - the core, internal only: the Rasa server (Python 3.10) on 127.0.0.1:5006, no HTTP API;
# - the maintained runtime (Python 3.12+): the gateway on port 5005 (web chat socket.io, WhatsApp
#   webhook, REST), the action server on 127.0.0.1:5055, the worker, the staff console (port 8080)
#   and the web chat demo page (port 8000).
# In a terminal you can chat with it right away.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh

GATEWAY_PORT="${GIDS_GATEWAY_PORT:-5005}"
CORE_PORT="${GIDS_CORE_PORT:-5006}"
ACTIONS_PORT="${GIDS_ACTIONS_PORT:-5055}"
CONSOLE_PORT="${GIDS_CONSOLE_PORT:-8080}"
WEBCHAT_PORT="${GIDS_WEBCHAT_PORT:-8000}"
# The gateway, console and demo page listen on 127.0.0.1 unless told otherwise (behind a proxy).
PUBLIC_HOST="${GIDS_PUBLIC_HOST:-127.0.0.1}"
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore::DeprecationWarning
mkdir -p var/log
# The internal tokens: from the environment, or made once in var/ (mode 0600).
secret() { .venv-svc/bin/python -c "import sys; from bot import tokens; print(tokens.shared_secret(sys.argv[1]))" "$1"; }
export GIDS_CORE_TOKEN="$(secret GIDS_CORE_TOKEN)" GIDS_ACTION_TOKEN="$(secret GIDS_ACTION_TOKEN)"
export GIDS_CORE_URL="http://127.0.0.1:$CORE_PORT" GIDS_ACTIONS_PORT="$ACTIONS_PORT"

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
trap 'stop; exit 130' INT TERM

printf '\n==> Starting the action server on 127.0.0.1:%s (log: var/log/actions.log)\n' "$ACTIONS_PORT"
.venv-svc/bin/gids actions --port "$ACTIONS_PORT" >var/log/actions.log 2>&1 &
pids+=($!)

printf '==> Starting the worker: partner notifications and the daily purge (log: var/log/worker.log)\n'
.venv-svc/bin/gids worker >var/log/worker.log 2>&1 &
pids+=($!)

printf '==> Starting the staff console on port %s (log: var/log/console.log)\n' "$CONSOLE_PORT"
.venv-svc/bin/gids console --host "$PUBLIC_HOST" --port "$CONSOLE_PORT" >var/log/console.log 2>&1 &
pids+=($!)

printf '==> Starting the web chat demo page on port %s (log: var/log/webchat.log)\n' "$WEBCHAT_PORT"
.venv-svc/bin/gids webchat --host "$PUBLIC_HOST" --port "$WEBCHAT_PORT" --rasa-url "http://localhost:$GATEWAY_PORT" >var/log/webchat.log 2>&1 &
pids+=($!)

printf '==> Starting the gateway on port %s (log: var/log/gateway.log)\n' "$GATEWAY_PORT"
.venv-svc/bin/gids gateway --host "$PUBLIC_HOST" --port "$GATEWAY_PORT" >var/log/gateway.log 2>&1 &
pids+=($!)

printf '==> Starting the core (Rasa) on 127.0.0.1:%s, internal only (log: var/log/rasa.log)\n' "$CORE_PORT"
.venv/bin/rasa run --model models/gids.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  --interface 127.0.0.1 --port "$CORE_PORT" --logging-config-file config/logging.yml >var/log/rasa.log 2>&1 &
pids+=($!)

# In the background and waited for, so Ctrl-C or a TERM stops everything at once, also while the
# Rasa server is still loading (bash runs traps only between foreground commands).
.venv-svc/bin/python - "$GATEWAY_PORT" <<'PY' &
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/health"
for _ in range(240):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(1)
sys.exit("the gids did not come up within 4 minutes; see var/log/rasa.log and var/log/gateway.log")
PY
ready=$!
pids+=("$ready")
wait "$ready"

cat <<TXT

Werkcentrum Gids is running.
  REST:      curl -s localhost:$GATEWAY_PORT/webhooks/rest/webhook -d '{"message":"ik heb schulden"}'
  Terminal:  .venv-svc/bin/gids chat --url http://localhost:$GATEWAY_PORT
  Web chat:  http://localhost:$WEBCHAT_PORT  (demo page with the widget)
  Console:   http://localhost:$CONSOLE_PORT  (first user: .venv-svc/bin/gids user add NAME --role admin)
Stop with Ctrl-C.
TXT

if [ -t 0 ]; then
  .venv-svc/bin/gids chat --url "http://localhost:$GATEWAY_PORT" || true
else
  wait -n
fi
