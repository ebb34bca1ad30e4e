"""Place resolution: what a person types → gemeente and arbeidsmarktregio.

Accepts gemeente names, woonplaatsen, everyday names (Den Haag, Den Bosch), PC4 and PC6
postcodes, in any case, with or without accents, with typos (rapidfuzz), inside a sentence
("ik woon in Hoogezand") or alone. Names that belong to several gemeenten (Haren, Bergen,
Hengelo, Rijswijk, Beek, …) come back as candidates for the person to choose from."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import config
from bot.routing.cache import RefreshingCache
from bot.db.models import Arbeidsmarktregio, Gemeente, PlaceAlias, Postcode, Woonplaats

log = logging.getLogger(__name__)

RESOLVED, AMBIGUOUS, UNKNOWN, INVALID_POSTCODE, ABROAD, EMPTY = (
    "resolved", "ambiguous", "unknown", "invalid_postcode", "abroad", "empty")

MAX_INPUT_CHARS = 200        # a place is short; the rest of a long message is not a place
FUZZY_ACCEPT = 88            # a typo this close to exactly one place resolves to it
# Short words are one letter away from many names ("weet" ~ Weert, "hallo" ~ Hall, "dorp" ~
# Adorp): there a typo must keep the length (a swapped letter, 90+) to resolve; otherwise the
# name is only offered as a suggestion.
FUZZY_ACCEPT_SHORT = 90
SHORT_WORD = 5
# The country is not a place to route on ("Nederland" is also a hamlet in Steenwijkerland).
COUNTRY_NAMES = {"nederland", "holland", "the netherlands", "netherlands", "nl"}
FUZZY_SUGGEST = 70           # closer than this: offered as a suggestion
PC4_MAJORITY = 0.9           # a PC4 shared by gemeenten resolves to one that has 90% of it

PC6_RE = re.compile(r"\b([1-9][0-9]{3})\s?([a-z]{2})\b", re.IGNORECASE)
PC4_RE = re.compile(r"\b([1-9][0-9]{3})\b")
POSTCODE_SHAPE_RE = re.compile(r"^\s*(?:postcode\s*:?\s*)?([0-9]{4})\s?([a-z]{0,2})\s*$", re.IGNORECASE)

# Said in front of a place; dropped before matching ("ik woon in", "gemeente", …).
_LEADING_WORDS = re.compile(
    r"^(?:(?:ik|wij|we|mijn bedrijf|ons bedrijf|het bedrijf)\s+(?:woon|wonen|zit|zitten|werk|werken|kom|komen|ben|is|zijn)"
    r"(?:\s+(?:nu|al|sinds kort))?\s+(?:in|uit|te|bij|vlakbij|rond)\s+|in\s+|te\s+|uit\s+|bij\s+|"
    r"(?:de\s+)?gemeente\s+|woonplaats\s*:?\s*|plaats\s*:?\s*|stad\s*:?\s*|postcode\s*:?\s*)+",
    re.IGNORECASE)

PROVINCE_HINTS = {
    "groningen": "Groningen", "gn": "Groningen", "gr": "Groningen",
    "friesland": "Fryslân", "fryslan": "Fryslân", "fr": "Fryslân",
    "drenthe": "Drenthe", "dr": "Drenthe", "overijssel": "Overijssel", "ov": "Overijssel", "o": "Overijssel",
    "flevoland": "Flevoland", "fl": "Flevoland", "gelderland": "Gelderland", "gld": "Gelderland",
    "utrecht": "Utrecht", "ut": "Utrecht", "noord-holland": "Noord-Holland", "noord holland": "Noord-Holland",
    "nh": "Noord-Holland", "zuid-holland": "Zuid-Holland", "zuid holland": "Zuid-Holland", "zh": "Zuid-Holland",
    "zeeland": "Zeeland", "z": "Zeeland", "zl": "Zeeland", "noord-brabant": "Noord-Brabant",
    "noord brabant": "Noord-Brabant", "brabant": "Noord-Brabant", "nb": "Noord-Brabant",
    "limburg": "Limburg", "l": "Limburg", "li": "Limburg",
}

# Countries and nearby foreign towns people name when they do not live in the Netherlands.
ABROAD_NAMES = {
    "belgie", "belgium", "belgique", "vlaanderen", "antwerpen", "brussel", "bruxelles", "gent",
    "luik", "hasselt", "brugge", "leuven", "genk", "duitsland", "germany", "deutschland", "aken",
    "aachen", "keulen", "koln", "dusseldorf", "emmerich", "kleef", "kleve", "gronau", "nordhorn",
    "munster", "frankrijk", "france", "parijs", "spanje", "spain", "portugal", "italie", "polen",
    "poland", "roemenie", "bulgarije", "hongarije", "oekraine", "ukraine", "turkije", "marokko",
    "syrie", "eritrea", "ethiopie", "somalie", "afghanistan", "iran", "irak", "suriname",
    "curacao", "aruba", "bonaire", "sint maarten", "sint eustatius", "saba", "engeland", "england",
    "uk", "verenigd koninkrijk", "londen", "london", "amerika", "usa", "buitenland", "abroad",
}


# Words after which a name is a place ("ik woon in Bergen"). Kept apart from the spaCy
# component's list on purpose: importing that file pulls in spaCy, which the action server's
# docker image does not have; this one also knows "van" ("in de buurt van Leiden").
PLACE_CUES = {"in", "uit", "bij", "te", "naar", "rond", "nabij", "vlakbij", "gemeente", "regio",
              "omgeving", "woonplaats", "plaats", "stad", "dorp", "van"}
# Words before the cue that say the place is where the person lives (or their company is).
LIVES_WORDS = {"woon", "woont", "wonen", "woonachtig", "verhuisd", "gevestigd", "zit", "zitten"}
# Articles and pronouns are never a place, even where a woonplaats has their name (Een).
NOT_A_PLACE_AFTER_CUE = {"een", "de", "het", "mijn", "m'n", "mn", "ons", "onze", "zijn", "haar",
                         "hun", "je", "jouw", "dit", "dat", "die", "deze", "der", "den"}
# Abbreviations in place names: "Alphen a/d Rijn" is Alphen aan den Rijn.
_ABBREVIATION_TEXT = {"a/d": "aan den", "a.d.": "aan den", "a/d.": "aan den"}
_ABBREVIATIONS = re.compile(r"(?<!\w)(?:a/d\.?|a\.d\.)(?!\w)", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: "'s-Hertogenbosch" → "s hertogenbosch"."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class GemeenteRef:
    code: str
    name: str
    province: str
    region_code: str
    region_name: str

    def as_dict(self) -> Dict:
        return {"gemeente": {"code": self.code, "name": self.name, "province": self.province},
                "region": {"code": self.region_code, "name": self.region_name}}


@dataclass
class Resolution:
    status: str
    input: str
    gemeente: Optional[GemeenteRef] = None
    candidates: List[GemeenteRef] = field(default_factory=list)
    suggestions: List[str] = field(default_factory=list)
    matched: str = ""      # the name or postcode that matched
    how: str = ""          # exact, postcode, fuzzy, code

    @property
    def ok(self) -> bool:
        return self.status == RESOLVED


@dataclass
class _Entry:
    label: str             # what the person sees: "Haren (Groningen)"
    codes: Set[str]


class PlaceIndex:
    """Every name a place goes by, normalised, in memory: a lookup costs microseconds."""

    def __init__(self, gemeenten: Dict[str, GemeenteRef], names: Dict[str, Set[str]],
                 labels: Dict[str, str], postcodes: Dict[str, List[Tuple[str, float]]],
                 word_like: Set[str]):
        self.gemeenten = gemeenten
        self.names = names
        self.labels = labels
        self.postcodes = postcodes
        self.word_like = word_like
        self._keys = list(names)

    @classmethod
    def load(cls, session: Session) -> "PlaceIndex":
        regions = {r.code: r.name for r in session.execute(select(Arbeidsmarktregio)).scalars()}
        gemeenten = {g.code: GemeenteRef(g.code, g.name, g.province, g.region_code, regions[g.region_code])
                     for g in session.execute(select(Gemeente)).scalars()}
        names: Dict[str, Set[str]] = {}
        labels: Dict[str, str] = {}

        def add(name: str, code: str) -> None:
            key = normalise(name)
            if key:
                names.setdefault(key, set()).add(code)
                labels.setdefault(key, name)

        for g in gemeenten.values():
            add(g.name, g.code)
            add(re.sub(r"\s*\(.*\)$", "", g.name), g.code)  # "Bergen (NH.)" → "Bergen"
        for w in session.execute(select(Woonplaats)).scalars():
            add(w.name, w.gemeente_code)
            add(w.basename, w.gemeente_code)
        for a in session.execute(select(PlaceAlias)).scalars():
            add(a.alias, a.gemeente_code)
        postcodes: Dict[str, List[Tuple[str, float]]] = {}
        for p in session.execute(select(Postcode)).scalars():
            postcodes.setdefault(p.pc4, []).append((p.gemeente_code, p.share))
        for rows in postcodes.values():
            rows.sort(key=lambda r: -r[1])
        return cls(gemeenten, names, labels, postcodes, place_words())

    # -- helpers -------------------------------------------------------------------------------
    def refs(self, codes) -> List[GemeenteRef]:
        return sorted((self.gemeenten[c] for c in codes if c in self.gemeenten), key=lambda g: g.name)

    def _result_for(self, codes: Set[str], text: str, matched: str, how: str) -> Resolution:
        refs = self.refs(codes)
        if len(refs) == 1:
            return Resolution(RESOLVED, text, gemeente=refs[0], matched=matched, how=how)
        return Resolution(AMBIGUOUS, text, candidates=refs, matched=matched, how=how)

    def _with_province_hint(self, key: str) -> Optional[Set[str]]:
        """ "bergen nh", "haren groningen", "hengelo gelderland" → the right one."""
        for hint, province in sorted(PROVINCE_HINTS.items(), key=lambda kv: -len(kv[0])):
            if key.endswith(" " + hint):
                base = key[: -len(hint) - 1].strip()
                codes = {c for c in self.names.get(base, set()) if self.gemeenten[c].province == province}
                if codes:
                    return codes
        return None

    # -- the public entry points ----------------------------------------------------------------
    def resolve_code(self, code: str) -> Resolution:
        g = self.gemeenten.get(code.strip().upper())
        if g is None:
            return Resolution(UNKNOWN, code)
        return Resolution(RESOLVED, code, gemeente=g, matched=g.name, how="code")

    def resolve_postcode(self, text: str, digits: str, letters: str = "") -> Resolution:
        shown = f"{digits} {letters.upper()}".strip()
        if digits.startswith("0") or (letters and letters.upper() in ("SA", "SD", "SS")) or len(letters) == 1:
            return Resolution(INVALID_POSTCODE, text, matched=shown)
        rows = self.postcodes.get(digits)
        if not rows:
            return Resolution(UNKNOWN, text, matched=shown, how="postcode")
        if len(rows) == 1 or rows[0][1] >= PC4_MAJORITY:
            return Resolution(RESOLVED, text, gemeente=self.gemeenten[rows[0][0]], matched=shown, how="postcode")
        return Resolution(AMBIGUOUS, text, candidates=self.refs([c for c, _ in rows]), matched=shown, how="postcode")

    def resolve(self, text: str) -> Resolution:
        raw = (text or "").strip()
        if not raw or not re.search(r"\w", raw):
            return Resolution(EMPTY, raw)
        text = raw[:MAX_INPUT_CHARS]
        if re.fullmatch(r"GM\d{4}", text.strip(), re.IGNORECASE):
            return self.resolve_code(text)

        text = _ABBREVIATIONS.sub(lambda m: _ABBREVIATION_TEXT[m.group(0).lower()], text)
        shape = POSTCODE_SHAPE_RE.match(text) or POSTCODE_SHAPE_RE.match(_LEADING_WORDS.sub("", text.strip()))
        if shape:
            return self.resolve_postcode(raw, shape.group(1), shape.group(2))
        pc6 = PC6_RE.search(text)
        if pc6 and pc6.group(2).lower() not in ("en", "de", "in", "op", "te", "of", "om", "is"):
            return self.resolve_postcode(raw, pc6.group(1), pc6.group(2))

        key = normalise(text)
        stripped = normalise(_LEADING_WORDS.sub("", text.strip()))
        if stripped in COUNTRY_NAMES or key in COUNTRY_NAMES:
            return Resolution(UNKNOWN, raw)
        for k in dict.fromkeys([key, stripped]):
            if k in self.names:
                return self._result_for(self.names[k], raw, self.labels[k], "exact")
            codes = self._with_province_hint(k)
            if codes:
                return self._result_for(codes, raw, self.labels.get(k, k), "exact")
        if stripped in ABROAD_NAMES or key in ABROAD_NAMES:
            return Resolution(ABROAD, raw, matched=stripped)

        # A place inside a sentence: the longest run of words that is a place name, first right
        # after "in/uit/bij/…" ("ik ben heel blij en woon in Zwolle": Zwolle, not Heel), where
        # a name that is also a word counts too ("ik woon in Bergen").
        words = key.split()
        for after_cue_only in (True, False):
            found: List[Tuple[int, str]] = []  # (position, name), longest names first
            for n in (4, 3, 2, 1):
                for i in range(len(words) - n + 1):
                    after_cue = i > 0 and words[i - 1] in PLACE_CUES
                    if after_cue_only and not after_cue:
                        continue
                    gram = " ".join(words[i:i + n])
                    if gram in NOT_A_PLACE_AFTER_CUE:
                        continue  # "ik woon in een dorp": Een is a woonplaats, here an article
                    if (gram in self.names and (after_cue or gram not in self.word_like)) or gram in ABROAD_NAMES:
                        found.append((i, gram))
            if found:
                # "ik kom uit Groningen maar woon nu in Zwolle": where the person lives wins.
                lives = [(i, g) for i, g in found if LIVES_WORDS & set(words[max(0, i - 4):i])]
                i, gram = (lives or found)[0]
                if gram in ABROAD_NAMES and gram not in self.names:
                    return Resolution(ABROAD, raw, matched=gram)
                return self._result_for(self.names[gram], raw, self.labels[gram], "exact")
        pc4 = PC4_RE.search(text)
        if pc4 and "postcode" in key:
            return self.resolve_postcode(raw, pc4.group(1))

        return self._fuzzy(raw, stripped or key)

    def _fuzzy(self, raw: str, key: str) -> Resolution:
        if not key:
            return Resolution(UNKNOWN, raw)
        hits = process.extract(key, self._keys, scorer=fuzz.ratio, limit=8, score_cutoff=FUZZY_SUGGEST)
        if not hits:
            # Perhaps the place is one word in a longer typo-ridden sentence.
            best: List[Tuple[str, float, int]] = []
            for word in key.split():
                if len(word) >= 4 and word not in self.word_like:
                    best += [h for h in process.extract(word, self._keys, scorer=fuzz.ratio, limit=3,
                                                        score_cutoff=FUZZY_ACCEPT)
                             if h[1] >= _accept(word)]
            hits = sorted(best, key=lambda h: -h[1])
            key = hits[0][0] if hits else key
        if not hits:
            return Resolution(UNKNOWN, raw)
        top_key, top_score, _ = hits[0]
        runner_up = next((s for k, s, _ in hits[1:] if self.names[k] != self.names[top_key]), 0)
        if top_score >= _accept(key) and top_score - runner_up >= 4:
            return self._result_for(self.names[top_key], raw, self.labels[top_key], "fuzzy")
        suggestions = list(dict.fromkeys(self.labels[k] for k, s, _ in hits if s >= FUZZY_SUGGEST))[:3]
        return Resolution(UNKNOWN, raw, suggestions=suggestions)


def place_words() -> Set[str]:
    """The place names that are also Dutch words, from data/routing/place_words.txt (generated by
    `gids nlp lookups`, so no spaCy import here: the action server starts fast and its docker
    image needs no spaCy)."""
    path = config.ROUTING_DIR / "place_words.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        log.warning("%s is missing: every place name may match inside a sentence", path)
        return set()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _accept(text: str) -> float:
    return FUZZY_ACCEPT_SHORT if len(text) <= SHORT_WORD else FUZZY_ACCEPT


INDEX_TTL_SECONDS = 300  # an administrator's import reaches running servers within 5 minutes
_indexes: RefreshingCache[PlaceIndex] = RefreshingCache(INDEX_TTL_SECONDS)
_cache = _indexes.entries  # engine URL -> (loaded at, index); read by bench/routing


def place_index(engine: Engine, max_age: float = INDEX_TTL_SECONDS) -> PlaceIndex:
    def load() -> PlaceIndex:
        with Session(engine, future=True) as session:
            return PlaceIndex.load(session)
    return _indexes.get(str(engine.url), load, max_age)


def forget_cached_indexes() -> None:
    """Drop the place index and the cached service lookups (after an import or in tests)."""
    _indexes.clear()
    import bot.routing as routing  # the service cache lives beside route()
    routing.forget_cached_services()
