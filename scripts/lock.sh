#!/usr/bin/env bash
# Regenerates requirements.lock from requirements.in (pinned versions with hashes for Linux
# x86_64, Python 3.10). Run after changing requirements.in, then ./setup.sh installs the result.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/uv pip compile requirements.in --python-version 3.10 \
  --python-platform x86_64-unknown-linux-gnu --generate-hashes -o requirements.lock
