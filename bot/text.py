"""What kind of message the gids received, before anyone tries to understand it.

Used by the NLU guard (what the classifier sees) and by the fallback action (what to say back)."""
from __future__ import annotations

import html
import re
import unicodedata
from enum import Enum

# Longer than any training example; a 5,000-character story is shortened for the classifier
# only — the full text stays in the conversation. Head and tail are kept because people often
# tell their story first and ask their question at the end.
MAX_CLASSIFY_CHARS = 1000
_HEAD_CHARS = 600

_TAG_RE = re.compile(r"<[^>]{0,200}>")
_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?\n])\s+")


class InputKind(str, Enum):
    EMPTY = "empty"            # nothing, or only spaces
    NO_WORDS = "no_words"      # only emoji, punctuation or symbols
    OTHER_SCRIPT = "other_script"  # mostly a non-Latin script: Arabic, Cyrillic, Tigrinya, ...
    TEXT = "text"


def _drop_repeated_sentences(text: str) -> str:
    # Word counts are the classifier's features: one sentence pasted 80 times would weigh 80 times.
    seen, kept = set(), []
    for sentence in _SENTENCE_END_RE.split(text):
        key = _SPACE_RE.sub(" ", sentence.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence.strip())
    return " ".join(kept)


def _cut_on_space(text: str, at: int, from_end: bool = False) -> str:
    if from_end:
        start = len(text) - at
        space = text.find(" ", start)
        return text[space + 1:] if 0 <= space < start + at // 2 else text[start:]
    space = text.rfind(" ", 0, at)
    return text[:space] if space > at // 2 else text[:at]


def clean_for_classifier(text: str) -> str:
    """Plain text as a person meant it: HTML tags dropped, entities decoded, spaces folded,
    repeated sentences once, and at most MAX_CLASSIFY_CHARS (head and tail of a long story)."""
    if not text:
        return ""
    text = html.unescape(_TAG_RE.sub(" ", _SCRIPT_RE.sub(" ", text))).replace("\r", "\n")
    text = _SPACE_RE.sub(" ", _drop_repeated_sentences(text)).strip()
    if len(text) > MAX_CLASSIFY_CHARS:
        head = _cut_on_space(text, _HEAD_CHARS)
        tail = _cut_on_space(text, MAX_CLASSIFY_CHARS - _HEAD_CHARS - 3, from_end=True)
        text = f"{head} … {tail}"
    return text


def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and "LATIN" in unicodedata.name(ch, "")


def classify_input(text: str) -> InputKind:
    cleaned = clean_for_classifier(text or "")
    if not cleaned:
        return InputKind.EMPTY
    letters = [c for c in cleaned if c.isalpha()]
    digits = [c for c in cleaned if c.isdigit()]
    if not letters and not digits:
        return InputKind.NO_WORDS
    if letters:
        latin = sum(1 for c in letters if _is_latin_letter(c))
        if latin / len(letters) < 0.5:
            return InputKind.OTHER_SCRIPT
    return InputKind.TEXT
