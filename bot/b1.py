"""The B1 check for everything the gids says (../STYLE-B1.md, in tests/test_b1.py).

Readability is the Dutch Flesch–Douma score (206.835 − 0.93 × words per sentence − 77 ×
syllables per word) as computed by textstat with lang "nl" (syllables from pyphen's Dutch
hyphenation dictionary). Limits: at most 15 words per sentence on average, no sentence over 20
words, a Flesch–Douma score of at least 60, "je" and never "u", buttons of at most 20 characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

from bot import config

MAX_AVG_WORDS_PER_SENTENCE = 15
MAX_WORDS_IN_ONE_SENTENCE = 20
MIN_FLESCH_DOUMA = 60
MAX_BUTTON_CHARS = 20

# "werk.nl" and "0800-0113" are not sentence ends; protect dots inside words and numbers first.
_INNER_DOT_RE = re.compile(r"(?<=\w)\.(?=\w)")
_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]*")
_WORD_RE = re.compile(r"[\w'’-]+", re.UNICODE)
_FORMAL_RE = re.compile(r"\b(?:u|uw|uzelf)\b", re.IGNORECASE)


def sentences(text: str) -> List[str]:
    text = _INNER_DOT_RE.sub("·", text)
    return [s.strip() for s in _SENTENCE_RE.findall(text) if _WORD_RE.search(s)]


def words(text: str) -> List[str]:
    return _WORD_RE.findall(text.replace("·", " "))


def _syllables(word: str) -> int:
    import textstat

    textstat.set_lang("nl")  # pyphen's nl_NL dictionary; "en" would need nltk's cmudict
    return max(1, textstat.syllable_count(word))


def flesch_douma(text: str) -> float:
    parts = sentences(text)
    ws = words(text)
    if not parts or not ws:
        return 0.0
    syllables = sum(_syllables(w) for w in ws)
    return 206.835 - 0.93 * (len(ws) / len(parts)) - 77 * (syllables / len(ws))


@dataclass
class B1Result:
    name: str
    text: str
    words_per_sentence: float
    longest_sentence: int
    flesch_douma: float
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_text(name: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None) -> B1Result:
    parts = sentences(text)
    lengths = [len(words(s)) for s in parts] or [0]
    avg = sum(lengths) / len(parts) if parts else 0.0
    score = flesch_douma(text)
    problems = []
    if avg > MAX_AVG_WORDS_PER_SENTENCE:
        problems.append(f"{avg:.1f} words per sentence (max {MAX_AVG_WORDS_PER_SENTENCE})")
    if max(lengths) > MAX_WORDS_IN_ONE_SENTENCE:
        problems.append(f"a sentence of {max(lengths)} words (max {MAX_WORDS_IN_ONE_SENTENCE})")
    if score < MIN_FLESCH_DOUMA:
        problems.append(f"Flesch-Douma {score:.0f} (min {MIN_FLESCH_DOUMA})")
    if _FORMAL_RE.search(text):
        problems.append('says "u": the gids says "je"')
    for b in buttons or []:
        if len(b.get("title", "")) > MAX_BUTTON_CHARS:
            problems.append(f"button '{b['title']}' is longer than {MAX_BUTTON_CHARS} characters")
    return B1Result(name, text, avg, max(lengths), score, problems)


def domain_texts(domain_path: Optional[Path] = None) -> Iterator[Tuple[str, str, List[Dict[str, Any]]]]:
    path = Path(domain_path or config.ROOT / "domain.yml")
    domain = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, variants in (domain.get("responses") or {}).items():
        for i, variant in enumerate(variants):
            label = name if len(variants) == 1 else f"{name}[{i}]"
            yield label, variant.get("text", ""), variant.get("buttons") or []


def check_domain(domain_path: Optional[Path] = None) -> List[B1Result]:
    return [check_text(name, text, buttons) for name, text, buttons in domain_texts(domain_path)]
