"""Build the Dutch spaCy pipeline ``nl_gids`` and install it as a spaCy package.

Base: ``nl_core_news_sm`` where it is installed, else ``spacy.blank("nl")`` (said plainly).
On top: Dutch lemma lookups (spacy-lookups-data), an EntityRuler for gemeenten, woonplaatsen and
spoken languages, and ``gids_context_entities`` for postcodes and place names that are also words.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import spacy
from spacy.language import Language

from bot import config
from bot.nlp import gazetteer
from bot.nlp import spacy_components  # noqa: F401  (registers gids_context_entities)

COMPONENTS_FILE = Path(spacy_components.__file__)
# Languages that are also ordinary words or names in Dutch: only matched when capitalised.
CASE_SENSITIVE_LANGUAGES = {"Lets", "Ests", "Tigre", "Frans"}


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def load_base(base: Optional[str] = None) -> Tuple[Language, str]:
    """The base pipeline and its name. Its NER is left out: our gazetteer replaces it."""
    name = base or config.SPACY_BASE_MODEL
    if name != "blank":
        try:
            return spacy.load(name, exclude=["ner"]), name
        except OSError:
            pass
    nlp = spacy.blank("nl")
    # Without a tagger the rule lemmatizer has no POS to work with; the lookup table needs none.
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    return nlp, "blank:nl"


def entity_patterns(places: List[str], languages: List[str]) -> Tuple[List[Dict], List[str]]:
    """EntityRuler patterns, and the place names that need context (they are also words)."""
    patterns: List[Dict] = []
    context_places: List[str] = []
    seen = set()

    def add(label: str, text: str, case_sensitive: bool) -> None:
        key = (label, text if case_sensitive else text.lower())
        if key in seen:
            return
        seen.add(key)
        if case_sensitive:
            patterns.append({"label": label, "pattern": [{"ORTH": text}]})
        else:
            patterns.append({"label": label, "pattern": text})

    for name in places:
        word_like = gazetteer.is_word_like(name)
        if word_like:
            context_places.append(name.lower())
        for variant in {name, strip_accents(name)}:
            add("location", variant, case_sensitive=word_like)
    for lang in languages:
        for variant in {lang, strip_accents(lang)}:
            add("language", variant, case_sensitive=lang in CASE_SENSITIVE_LANGUAGES)
    return patterns, sorted(set(context_places))


def build(output: Path, base: Optional[str] = None) -> Dict:
    nlp, base_used = load_base(base)
    places = gazetteer.place_names()
    languages = gazetteer.languages()
    patterns, context_places = entity_patterns(places, languages)
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    nlp.add_pipe("gids_context_entities", config={"context_places": context_places})
    if base_used.startswith("blank"):
        nlp.initialize()  # loads the lemma lookup table from spacy-lookups-data
    ruler.add_patterns(patterns)
    nlp.meta["name"] = config.SPACY_PACKAGE.split("_", 1)[1]
    nlp.meta["description"] = (
        f"Werkcentrum Gids Dutch pipeline on {base_used}: lemma lookups, gazetteer for "
        f"{len(places)} place names and {len(languages)} languages, Dutch postcodes."
    )
    nlp.meta["gids_base"] = base_used
    output = Path(output)
    if output.exists():
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return {"base": base_used, "places": len(places), "languages": len(languages),
            "patterns": len(patterns), "context_places": len(context_places), "path": str(output)}


def source_hash() -> str:
    """What the built pipeline depends on: its code, the gazetteer data and the spaCy version."""
    h = hashlib.sha256()
    for path in [Path(__file__), COMPONENTS_FILE, Path(gazetteer.__file__), config.NLU_DIR / "lookups.yml",
                 *sorted(config.ROUTING_DIR.glob("*.csv"))]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(spacy.__version__.encode())
    return h.hexdigest()[:16]


def package(pipeline_dir: Path, dist_dir: Path, version: str) -> Path:
    """Turn the pipeline into an installable spaCy package with our component code inside."""
    if dist_dir.exists():
        shutil.rmtree(dist_dir)
    dist_dir.mkdir(parents=True)
    meta = json.loads((pipeline_dir / "meta.json").read_text())
    meta["version"] = version
    (pipeline_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    result = subprocess.run([sys.executable, "-m", "spacy", "package", str(pipeline_dir), str(dist_dir),
                             "--code", str(COMPONENTS_FILE), "--force"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"spacy package failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    sdists = list(dist_dir.glob("*/dist/*.tar.gz"))
    if len(sdists) != 1:
        raise RuntimeError(f"spacy package made {sdists}, expected one sdist")
    return sdists[0]


def installed_version() -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(config.SPACY_PACKAGE)
    except Exception:
        return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="gids nlp build", description=__doc__)
    ap.add_argument("--base", help="base pipeline: nl_core_news_sm (default) or 'blank'")
    ap.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    ap.add_argument("--no-install", action="store_true", help="build the directory only")
    args = ap.parse_args(argv)

    # The package version carries the source hash, so an unchanged pipeline is not rebuilt.
    version = f"1.0.0+{source_hash()}"
    if not args.force and not args.no_install and installed_version() == version:
        print(f"spaCy pipeline {config.SPACY_PACKAGE} {version} is up to date")
        return 0
    out = config.BUILD_DIR / "spacy" / config.SPACY_PACKAGE
    info = build(out, args.base)
    if info["base"].startswith("blank"):
        print(f"NOTE: {config.SPACY_BASE_MODEL} could not be installed (offline? set "
              f"NL_CORE_NEWS_SM_WHEEL to a local wheel): the Dutch pipeline is built on "
              f"spacy.blank('nl'), without tagger, parser or vectors.")
    print(f"built {out}: base {info['base']}, {info['places']} places, {info['languages']} languages, "
          f"{info['patterns']} patterns")
    if args.no_install:
        return 0
    sdist = package(out, config.BUILD_DIR / "spacy-dist", version)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                    "--force-reinstall", str(sdist)], check=True)
    print(f"installed spaCy package {config.SPACY_PACKAGE} {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
