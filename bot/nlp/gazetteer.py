"""Names the gids must recognise as entities, read from the routing seed and the NLU lookups."""
from __future__ import annotations

import csv
import gzip
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Set

import yaml

from bot import config

# BAG and CBS mark twin names with a province suffix ("Haren Gn", "Bergen (NH.)"); people don't.
_SUFFIX_RE = re.compile(r"\s*\((?:[A-Za-z]{1,3}\.?)\)$")


def strip_province_suffix(name: str) -> str:
    return _SUFFIX_RE.sub("", name).strip()


def _read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def place_names(routing_dir: Optional[Path] = None) -> List[str]:
    """Every gemeente, woonplaats and everyday place name, as people write them."""
    d = Path(routing_dir or config.ROUTING_DIR)
    names: Set[str] = set()
    for row in _read_csv(d / "gemeenten.csv"):
        names.add(strip_province_suffix(row["gemeentenaam"]))
    for row in _read_csv(d / "woonplaatsen.csv"):
        names.add(row["woonplaats_basisnaam"])
    for row in _read_csv(d / "place_aliases.csv"):
        names.add(row["alias"])
    return sorted(n for n in names if n)


def languages(nlu_dir: Optional[Path] = None) -> List[str]:
    """The ``language`` lookup table in data/nlu/lookups.yml."""
    path = Path(nlu_dir or config.NLU_DIR) / "lookups.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in doc.get("nlu", []):
        if item.get("lookup") == "language":
            return [line[2:].strip() for line in item["examples"].splitlines() if line.startswith("- ")]
    raise ValueError(f"{path} has no 'language' lookup table")


@lru_cache(maxsize=1)
def dutch_words() -> Set[str]:
    """Dutch word forms (spacy-lookups-data lemma table plus stop words).

    A place name that is also a word ("Beek", "Best", "Leiden") is tagged only when it is
    capitalised or stands after a place cue, so "ik doe mijn best" stays free of places."""
    import spacy_lookups_data
    from spacy.lang.nl.stop_words import STOP_WORDS

    path = Path(spacy_lookups_data.__file__).parent / "data" / "nl_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        table = json.load(f)
    return set(table) | set(table.values()) | set(STOP_WORDS)


# Everyday words the lemma table lacks because they are their own lemma.
_EXTRA_WORDS = {"best", "vries", "lent", "helden", "veen", "loo", "ens", "wijk", "heel", "hee", "well", "goes",
                "born", "mill", "nederland"}


def is_word_like(name: str) -> bool:
    low = name.lower()
    return " " not in name and "-" not in name and (low in _EXTRA_WORDS or low in dutch_words())
