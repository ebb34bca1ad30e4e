"""Train the Rasa model only when what it is trained from has changed.

The model is cached under ~/.cache/werkcentrum-gids/models/<hash>.tar.gz, keyed on the training
data, domain, config, the NLU components and the spaCy package they load. A fresh clone with the
same inputs (CI, a second checkout) reuses it instead of training for minutes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, List, Optional

from bot import config

MODEL_DIR = config.ROOT / "models"
MODEL_NAME = "gids"
TRAINING_INPUTS = ["config.yml", "domain.yml", "data/nlu", "data/rules", "data/stories",
                   "bot/nlp", "bot/safety.py", "bot/text.py", "requirements.lock"]


def _files(paths: Iterable[str], root: Path) -> List[Path]:
    out: List[Path] = []
    for p in paths:
        path = root / p
        if path.is_dir():
            out.extend(f for f in sorted(path.rglob("*")) if f.is_file() and "__pycache__" not in f.parts)
        elif path.exists():
            out.append(path)
    return out


def training_hash(root: Path = config.ROOT, spacy_version: Optional[str] = None) -> str:
    h = hashlib.sha256()
    for f in _files(TRAINING_INPUTS, root):
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    if spacy_version is None:
        from bot.nlp.build import installed_version
        spacy_version = installed_version() or "none"
    h.update(spacy_version.encode())
    return h.hexdigest()[:20]


def cached_model(digest: str) -> Path:
    return config.CACHE_DIR / "models" / f"{MODEL_NAME}-{digest}.tar.gz"


def training_record(digest: str) -> Path:
    return config.CACHE_DIR / "models" / f"{MODEL_NAME}-{digest}.training.json"


def ensure_model(force: bool = False) -> Path:
    """models/gids.tar.gz, trained or taken from the cache."""
    digest = training_hash()
    target = MODEL_DIR / f"{MODEL_NAME}.tar.gz"
    stamp = MODEL_DIR / f"{MODEL_NAME}.hash"
    cache = cached_model(digest)
    MODEL_DIR.mkdir(exist_ok=True)
    if not force and target.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        print(f"model {target} is up to date ({digest})")
        return target
    if not force and cache.exists():
        shutil.copyfile(cache, target)
        stamp.write_text(digest)
        print(f"model taken from cache {cache}")
        return target
    print(f"training the Rasa model ({digest}); this takes a few minutes ...", flush=True)
    rasa = Path(sys.executable).with_name("rasa")
    started = time.monotonic()
    subprocess.run([str(rasa), "train", "--fixed-model-name", MODEL_NAME, "--out", str(MODEL_DIR)],
                   cwd=config.ROOT, check=True)
    seconds = time.monotonic() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, cache)
    # Kept beside the cached model so that a copy from the cache still knows what training cost (bench/load).
    training_record(digest).write_text(json.dumps({
        "seconds": round(seconds, 1), "cpus": os.cpu_count(),
        "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}) + "\n")
    stamp.write_text(digest)
    print(f"model trained: {target} (cached as {cache})")
    return target
