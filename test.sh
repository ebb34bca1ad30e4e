#!/usr/bin/env bash
# Runs every test: set-up (without starting the servers), then pytest. pytest also runs
# `rasa data validate --fail-on-warnings` and `rasa test core --fail-on-prediction-errors`.
# PostgreSQL and Redis tests need 127.0.0.1:5432 and :6379; with CI=true they fail when absent.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
exec .venv/bin/python -m pytest "$@"
