"""spaCy components of the gids pipeline (nl_gids).

This file is shipped *inside* the spaCy package (``spacy package --code``), so it may import only
spaCy and the standard library: the Rasa server loads the package without the ``bot`` package.
"""

import re
from typing import Iterable, List

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

# Dutch postcodes never start with 0 and never use the letter pairs SA, SD or SS.
PC4_RE = re.compile(r"^[1-9][0-9]{3}$")
PC6_ONE_TOKEN_RE = re.compile(r"^[1-9][0-9]{3}(?!sa|sd|ss)[a-z]{2}$", re.IGNORECASE)
LETTERS_RE = re.compile(r"^(?!sa$|sd$|ss$)[a-z]{2}$", re.IGNORECASE)

# A bare four-digit number is only a postcode when the words around it say so; otherwise
# "2000 euro schuld" or "sinds 2019" would become a place.
POSTCODE_CUES = {"postcode", "pc", "pc4", "postcodegebied", "postcodes"}
NOT_POSTCODE_AFTER = {"euro", "eur", "€", "procent", "%", "uur", "km", "kilometer", "mensen", "man",
                      "medewerkers", "werknemers", "jaar", "maanden", "dagen", "keer", "x"}
# Words after which a lower-case place name that is also a Dutch word ("leiden", "beek") is a place.
PLACE_CUES = {"in", "uit", "bij", "te", "naar", "rond", "nabij", "vlakbij", "gemeente", "regio",
              "omgeving", "woonplaats", "plaats", "stad", "dorp"}


def _bare_pc4_is_postcode(doc: Doc, i: int) -> bool:
    words = [t for t in doc if not (t.is_punct or t.is_space)]
    if len(words) == 1:
        return True
    prev = doc[i - 1].lower_ if i > 0 else ""
    if prev in ("is", ":") and i > 1:
        prev = doc[i - 2].lower_
    if prev in POSTCODE_CUES:
        return True
    nxt = doc[i + 1] if i + 1 < len(doc) else None
    if prev in ("€", "eur", "euro"):
        return False
    if nxt is not None and nxt.lower_ in NOT_POSTCODE_AFTER:
        return False
    # "9711 Groningen": a number directly followed by a known place.
    return nxt is not None and any(e.start == i + 1 and e.label_ == "location" for e in doc.ents)


def find_postcodes(doc: Doc) -> List[Span]:
    spans = []
    for i, token in enumerate(doc):
        text = token.text
        if PC6_ONE_TOKEN_RE.match(text):
            spans.append(Span(doc, i, i + 1, label="postcode"))
        elif PC4_RE.match(text):
            nxt = doc[i + 1] if i + 1 < len(doc) else None
            if nxt is not None and LETTERS_RE.match(nxt.text) and not nxt.is_stop:
                spans.append(Span(doc, i, i + 2, label="postcode"))
            elif _bare_pc4_is_postcode(doc, i):
                spans.append(Span(doc, i, i + 1, label="postcode"))
    return spans


def find_context_places(doc: Doc, context_places: Iterable[str]) -> List[Span]:
    """Lower-case places that are also Dutch words, accepted only after a place cue or alone."""
    names = set(context_places)
    words = [t for t in doc if not (t.is_punct or t.is_space)]
    spans = []
    for i, token in enumerate(doc):
        if token.lower_ not in names:
            continue
        alone = len(words) == 1
        after_cue = i > 0 and doc[i - 1].lower_ in PLACE_CUES
        # Een, Hem, Anderen, Gauw and Wier are villages and function words: "werk in een
        # fabriek", "ik ga naar hem" name no place. Only the capitalised name counts.
        if token.is_stop and not token.text[:1].isupper():
            continue
        if alone or after_cue:
            spans.append(Span(doc, i, i + 1, label="location"))
    return spans


def make_context_entities(nlp: Language, name: str, context_places: List[str]):
    return ContextEntities(context_places)


class ContextEntities:
    """Adds postcodes (PC4/PC6) and context-dependent place names to ``doc.ents``.

    Runs after the EntityRuler, which tags the unambiguous names; existing entities win."""

    def __init__(self, context_places: List[str]):
        self.context_places = [p.lower() for p in context_places]

    def __call__(self, doc: Doc) -> Doc:
        new = find_postcodes(doc) + find_context_places(doc, self.context_places)
        if new:
            # A postcode wins over a place the ruler found in the same tokens (none expected).
            doc.ents = filter_spans(new + list(doc.ents))
        return doc


# This file exists twice at run time: as bot.nlp.spacy_components and as the copy inside the
# installed nl_gids package. Whichever is imported first registers the factory.
if not Language.has_factory("gids_context_entities"):
    Language.factory("gids_context_entities", default_config={"context_places": []},
                     func=make_context_entities)
