#!/usr/bin/env bash
# Runs every test: set-up (without starting the servers), then pytest in both runtimes: the
# maintained one (.venv-svc, Python 3.12+: gateway, console, actions, worker, routing, handover)
# and the core (.venv, Python 3.10: Rasa, the NLU pipeline, the tracker store). The core run also
# does `rasa data validate --fail-on-warnings` and `rasa test core --fail-on-prediction-errors`.
# PostgreSQL and Redis tests need 127.0.0.1:5432 and :6379; with CI=true they fail when absent.
# Extra arguments go to both pytest runs (for example ./test.sh -k b1).
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

run() {  # pytest's exit 5 (nothing selected, e.g. by -k) is fine for one runtime, not for both
  local rc=0
  "$@" || rc=$?
  [ "$rc" -eq 5 ] && return 5
  return "$rc"
}
printf '\n==> Tests on the maintained runtime (.venv-svc)\n'
svc=0; run .venv-svc/bin/python -m pytest "$@" || svc=$?
printf '\n==> Tests on the core runtime (.venv)\n'
core=0; run .venv/bin/python -m pytest "$@" || core=$?
if [ "$svc" -eq 5 ] && [ "$core" -eq 5 ]; then echo "no test was selected"; exit 5; fi
for rc in "$svc" "$core"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
