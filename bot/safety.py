"""The keyword safety net for messages about suicide or acute danger.

The classifier has a ``crisis`` intent; this net catches what it misses, whatever confidence it
had, so nobody in danger gets a question about their postcode. False alarms cost little here."""
from __future__ import annotations

import re
import unicodedata

# Written against lower-cased text without accents. Each pattern is a phrase people use, not a
# single word like "dood" that also appears in "doodmoe" or "dood op" (exhausted).
_CRISIS_PATTERNS = [
    r"zelfmoord", r"suicide", r"suicidaal", r"zelfdoding", r"\b113\b",
    r"\bik wil (?:echt )?(?:dood|sterven|niet meer leven)",
    r"\b(?:niet|nie) meer (?:leven|willen leven|verder willen|wakker worden)",
    r"\bwil er niet meer zijn", r"\ber niet meer willen zijn",
    r"\b(?:een )?(?:eind|einde) (?:aan|maken aan) (?:mijn|m[ij]n|het) leven",
    r"\bmijn leven beeindigen", r"\bmezelf (?:iets )?(?:aandoen?|aan te doen|van kant (?:te )?maken|ophangen)",
    r"\bmezelf (?:snijden|pijn doen)", r"\bvan (?:de|een) (?:brug|flat|dak) springen",
    r"\bvoor de trein (?:springen|gaan liggen)", r"\bpillen (?:slikken|innemen) om",
    r"\bkill myself", r"\bend my life", r"\bwant to die",
    r"\ber (?:een )?(?:eind|einde) aan (?:te )?maken", r"\bzie (?:nog )?(?:maar )?(?:een|1) uitweg",
    r"\bsnij(?:d|den)? (?:mezelf|mijzelf)", r"\b(?:bij|aan) (?:mijn|m'n|m[ij]n) keel",
    r"\b(?:slaat|schopt|wurgt|bedreigt) (?:mij|me)\b",
    # Violence at home against someone else: a child telling what happens to a parent.
    r"\b(?:slaat|schopt|wurgt) (?:mijn|m'n) (?:moeder|vader|zus|broer|kind|kinderen|vrouw|man|vriendin)\b",
    r"\bbedreigd met een (?:mes|wapen|pistool)",
    r"\bmet een (?:mes|wapen|pistool) bedreigd", r"\bik ben in (?:direct |acuut )?gevaar",
    r"\bacuut gevaar", r"\bhuiselijk geweld",
]
_CRISIS_RE = re.compile("|".join(f"(?:{p})" for p in _CRISIS_PATTERNS))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text)


def mentions_crisis(text: str) -> bool:
    return bool(text) and _CRISIS_RE.search(_normalise(text)) is not None
