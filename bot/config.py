"""Where things are. Every path can be overridden from the environment (see README)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
ROUTING_DIR = Path(os.environ.get("GIDS_ROUTING_DIR", DATA_DIR / "routing"))
NLU_DIR = DATA_DIR / "nlu"
BUILD_DIR = Path(os.environ.get("GIDS_BUILD_DIR", ROOT / "build"))
CACHE_DIR = Path(os.environ.get("GIDS_CACHE_DIR", Path.home() / ".cache" / "werkcentrum-gids"))

# The spaCy package that config.yml's SpacyNLP loads by name.
SPACY_PACKAGE = "nl_gids"
SPACY_BASE_MODEL = "nl_core_news_sm"

DEFAULT_RETENTION_DAYS = 90


def retention_days() -> int:
    """How long handovers, transcripts and conversations are kept (GIDS_RETENTION_DAYS).
    A wrong setting is an error, not a silent 90: the purge must not keep data longer (or
    delete it sooner) than the Werkcentrum decided."""
    raw = os.environ.get("GIDS_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"GIDS_RETENTION_DAYS must be a whole number of days (1 or more), not {raw!r}")
    return int(raw)
