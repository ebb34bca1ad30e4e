#!/usr/bin/env bash
# Regenerates both lock files: requirements.lock from requirements.in (the core: Python 3.10,
# Linux x86_64) and requirements-svc.lock from requirements-svc.in (the maintained runtime:
# Python 3.12 and newer, any platform). Run after changing an .in file, then ./setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/uv pip compile requirements.in --python-version 3.10 \
  --python-platform x86_64-unknown-linux-gnu --generate-hashes -o requirements.lock
.venv/bin/uv pip compile requirements-svc.in --python-version 3.12 --universal --generate-hashes \
  -o requirements-svc.lock
