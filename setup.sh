#!/usr/bin/env bash
# Sets up Werkcentrum Gids without starting it, in two runtimes (README: "Two runtimes"):
# - the core: a Python 3.10 virtualenv (.venv) with Rasa 3.6, the Dutch spaCy pipeline (nl_gids)
#   and a trained Rasa model (requirements.lock);
# - the maintained runtime: a Python >= 3.12 virtualenv (.venv-svc) for the gateway, the action
#   server, the staff console and the worker (requirements-svc.lock).
# Safe to run again: every step is skipped when its inputs did not change.
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION=0.13.8
NL_CORE_NEWS_SM_URL="https://github.com/explosion/spacy-models/releases/download/nl_core_news_sm-3.4.0/nl_core_news_sm-3.4.0-py3-none-any.whl"
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore::DeprecationWarning

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

is_python310() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python310() {
  local candidates=("${GIDS_PYTHON:-}")
  candidates+=("$(command -v python3.10 2>/dev/null || true)")
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
  for p in "$pyenv_root"/versions/3.10.*/bin/python3.10; do candidates+=("$p"); done
  candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10 "$(command -v python3 2>/dev/null || true)")
  for c in "${candidates[@]}"; do
    # pyenv's shim answers even when no 3.10 is installed; is_python310 runs it to be sure.
    if is_python310 "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

# The maintained runtime: 3.12 up to 3.14 (rasa-sdk 3.21 supports no newer).
is_python_svc() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c 'import sys; sys.exit(not (3, 12) <= sys.version_info[:2] <= (3, 14))' 2>/dev/null; }

find_python_svc() {
  local candidates=("${GIDS_SVC_PYTHON:-}")
  for v in 3.12 3.13 3.14; do candidates+=("$(command -v python$v 2>/dev/null || true)"); done
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
  for p in "$pyenv_root"/versions/3.1[234].*/bin/python3; do candidates+=("$p"); done
  candidates+=(/usr/bin/python3.12 /usr/bin/python3.13 "$(command -v python3 2>/dev/null || true)")
  for c in "${candidates[@]}"; do
    if is_python_svc "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

if [ "${1:-}" = "--find-python" ]; then
  # For tests and for the curious: which python3.10 would set-up use?
  find_python310 || { echo "Python 3.10 was not found." >&2; exit 1; }
  exit 0
fi
if [ "${1:-}" = "--find-python-svc" ]; then
  find_python_svc || { echo "Python 3.12 or newer was not found." >&2; exit 1; }
  exit 0
fi

step "Python 3.10 (Rasa 3.6 does not run on 3.11 or newer)"
if ! is_python310 .venv/bin/python; then
  PY310="$(find_python310)" || die "Python 3.10 was not found. Install it (for example 'pyenv install 3.10.13', or 'apt install python3.10 python3.10-venv') or point GIDS_PYTHON at a python3.10 binary, then run this again."
  echo "using $PY310"
  rm -rf .venv
  "$PY310" -m venv .venv
else
  echo "using .venv ($(.venv/bin/python --version))"
fi

step "Pinned dependencies from requirements.lock"
stamp=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.gids-deps 2>/dev/null || true)" != "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  # uv keeps its wheel cache in ~/.cache/uv, so a second set-up installs without downloading.
  .venv/bin/uv pip sync --quiet --python .venv/bin/python requirements.lock
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
  rm -f .venv/.gids-spacy-base
  echo "$stamp" > .venv/.gids-deps
  echo "installed"
else
  echo "up to date"
fi

step "Python 3.12+ for the gateway, action server, console and worker"
if ! is_python_svc .venv-svc/bin/python; then
  PYSVC="$(find_python_svc)" || die "Python 3.12 (or 3.13, 3.14) was not found. Install it (for example 'pyenv install 3.12', or 'apt install python3.12 python3.12-venv') or point GIDS_SVC_PYTHON at its binary, then run this again."
  echo "using $PYSVC"
  rm -rf .venv-svc
  "$PYSVC" -m venv .venv-svc
else
  echo "using .venv-svc ($(.venv-svc/bin/python --version))"
fi
stamp=$(cat requirements-svc.lock pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv-svc/.gids-deps 2>/dev/null || true)" != "$stamp" ]; then
  .venv/bin/uv pip sync --quiet --python .venv-svc/bin/python requirements-svc.lock
  .venv/bin/uv pip install --quiet --python .venv-svc/bin/python --no-deps -e .
  echo "$stamp" > .venv-svc/.gids-deps
  echo "installed"
else
  echo "up to date"
fi

step "Dutch spaCy pipeline (nl_gids)"
if ! .venv/bin/python -c 'import nl_core_news_sm' 2>/dev/null && [ ! -e .venv/.gids-spacy-base ]; then
  if [ -n "${NL_CORE_NEWS_SM_WHEEL:-}" ]; then
    echo "installing nl_core_news_sm from $NL_CORE_NEWS_SM_WHEEL"
    .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps "$NL_CORE_NEWS_SM_WHEEL"
  elif timeout 120 .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps "$NL_CORE_NEWS_SM_URL" >/dev/null 2>&1; then
    echo "installed nl_core_news_sm 3.4.0"
  fi  # when neither worked, the build below says so in one line
  touch .venv/.gids-spacy-base  # asked once per dependency install, not on every run
fi
.venv/bin/gids nlp build

step "Database (var/gids.db, or DATABASE_URL)"
.venv-svc/bin/gids db upgrade
.venv-svc/bin/gids routing seed --if-empty

step "Rasa model"
mkdir -p var
.venv/bin/gids train

step "Set-up complete"
