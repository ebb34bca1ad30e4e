"""Shared secrets between the gids's own processes: the gateway → core token (GIDS_CORE_TOKEN),
the core → action server token (GIDS_ACTION_TOKEN) and the key that signs conversation ids
(GIDS_GATEWAY_SECRET). Importable by both runtimes (standard library only)."""
from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Mapping, Optional

from bot import config

CORE_TOKEN = "GIDS_CORE_TOKEN"
ACTION_TOKEN = "GIDS_ACTION_TOKEN"
GATEWAY_SECRET = "GIDS_GATEWAY_SECRET"
# On one machine each is made once in var/ (mode 0600); several machines set the variables.
FILES = {CORE_TOKEN: "core-token", ACTION_TOKEN: "action-token", GATEWAY_SECRET: "gateway-secret"}


def bearer_ok(expected: str, header: Optional[str]) -> bool:
    """``Authorization: Bearer <expected>``, compared in constant time; never true without a token."""
    if not expected or not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer "):].strip()
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def shared_secret(name: str, environ: Mapping[str, str] = os.environ, var_dir: Optional[Path] = None) -> str:
    """The variable ``name`` when set, else the value in var/<file>, made once."""
    value = (environ.get(name) or "").strip()
    if value:
        return value
    path = Path(var_dir or config.ROOT / "var") / FILES[name]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        value = secrets.token_urlsafe(32)
        fh.write(value + "\n")
    return value
