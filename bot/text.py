"""What kind of message the gids received, before anyone tries to understand it.

Used by the NLU guard (what the classifier sees) and by the fallback action (what to say back)."""
from __future__ import annotations

import html
import re
import unicodedata
from enum import Enum

# Far longer than anything the classifier needs; a 5,000-character story is cut here for the
# classifier only — the full text stays in the conversation.
MAX_CLASSIFY_CHARS = 1500

_TAG_RE = re.compile(r"<[^>]{0,200}>")
_SPACE_RE = re.compile(r"\s+")


class InputKind(str, Enum):
    EMPTY = "empty"            # nothing, or only spaces
    NO_WORDS = "no_words"      # only emoji, punctuation or symbols
    OTHER_SCRIPT = "other_script"  # mostly a non-Latin script: Arabic, Cyrillic, Tigrinya, ...
    TEXT = "text"


def clean_for_classifier(text: str) -> str:
    """Plain text as a person meant it: HTML tags dropped, entities decoded, spaces folded."""
    if not text:
        return ""
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > MAX_CLASSIFY_CHARS:
        cut = text.rfind(" ", 0, MAX_CLASSIFY_CHARS)
        text = text[: cut if cut > MAX_CLASSIFY_CHARS // 2 else MAX_CLASSIFY_CHARS]
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
