"""The sectoral route: what a person says → the sector they work in (or want to go to) → the
sector's own fund or portal.

Next to the regional route (gemeente → arbeidsmarktregio), a working person's training, career or
dismissal question and an employer's training question have a sectoral one (DESIGN.md, "The
routing table"): most sectors have an O&O- or A&O-fund, set up in the cao, that pays for courses
and career advice. The funds are partners of type `sectorfonds`; each has a sector key and the
words people use for that sector and its jobs (`partner.sector`, `partner.sector_words`, seeded
from data/routing/partners/sector_funds.csv, changed by the administrator's import).

``SectorIndex.find`` reads a sector in free text: "ik ben lasser" → metaal, "ik werk in de
thuiszorg" → zorg_vvt, "wij zijn een installatiebedrijf" → installatie. It takes inflections
("lassers"), compounds ("bouwbedrijf", "wijkverpleegkundige") and typos ("instalateur",
rapidfuzz), and knows when a word is not about work ("ik woon in de gemeente Zwolle", "ik heb
geen energie"). ``SectorIndex.cards`` gives the sector's cards for a topic, chosen like the
regional ones (bot/routing/services.py). ``answer`` reads the reply to the sector question, where
"weet ik niet" and a sector the table does not know are allowed answers."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Partner, Service
from bot.routing.places import normalise
from bot.routing.services import (SECTOR_PARTNER_TYPE, EMPLOYER_TOPICS, Offer, ServiceCard, default_audiences,
                                  doubtful_fields, make_offer)

# The topics of the sectoral route (issue 14): a working person's retraining, career-advice and
# dismissal questions, and an employer's training question.
RESIDENT_SECTOR_TOPICS = ("ask_retraining", "ask_career_advice", "ask_dismissal_help")
EMPLOYER_SECTOR_TOPICS = ("employer_training",)
SECTOR_TOPICS = RESIDENT_SECTOR_TOPICS + EMPLOYER_SECTOR_TOPICS

# Answers to the sector question that name no sector of the table (the slot keeps them, so the
# question is asked once).
UNKNOWN = "onbekend"       # "weet ik niet"
OTHER = "anders"           # a sector the table has no fund for ("ik werk bij een bank")
NOT_WORKING = "geen"       # "ik werk nu niet"
NO_SECTOR = (UNKNOWN, OTHER, NOT_WORKING)
MAX_SECTOR_CARDS = 2

# How the texts name a sector: "Voor werk in de metaal is er ook hulp van de sector zelf."
# A key an administrator adds later without a name here is shown as it is ("scheepsbouw").
SECTOR_NAMES = {
    "metaal": "de metaal", "metalektro": "de metalektro", "installatie": "de installatietechniek",
    "carrosserie": "de carrosseriebranche", "motorvoertuigen": "de autobranche en fietsbranche",
    "techniek": "de techniek", "bouw": "de bouw en infra", "energie": "de energiesector",
    "rail": "het spoor", "transport": "transport en logistiek", "taxi": "het taxivervoer",
    "groen": "de groene sector", "levensmiddelen": "de voedingsindustrie",
    "verpakkingen": "de verpakkingsindustrie", "detailhandel": "de winkelbranche", "horeca": "de horeca",
    "schoonmaak": "de schoonmaak", "beveiliging": "de beveiliging", "kappers": "de kappersbranche",
    "uitzend": "het uitzendwerk", "welzijn": "sociaal werk en jeugdzorg", "kinderopvang": "de kinderopvang",
    "zorg_vvt": "de ouderenzorg en thuiszorg", "zorg_ziekenhuis": "de ziekenhuizen", "zorg": "de zorg",
    "onderwijs_vo": "het voortgezet onderwijs", "onderwijs_po": "het basisonderwijs",
    "gemeenten": "de gemeenten", "rijksoverheid": "de rijksoverheid",
}
# Sectors that span others ("verpleegkundige" is zorg before it is ziekenhuis): first on a tie.
UMBRELLAS = ("zorg", "techniek")

# --- reading a sector in text ----------------------------------------------------------------
# Never a sector, whatever the list says: worries ("zorgen"), care at home, insurance.
# "herintreder" is anyone who returns to work, not only in the zorg, where the list has it; "ik
# zorg" is a campaign's name there, and what people say about caring for their family.
NEVER = {"zorgen", "zorgt", "mantelzorg", "mantelzorger", "mantelzorgers", "zelfzorg", "nazorg", "geldzorg",
         "geldzorgen", "zorgtoeslag", "zorgverzekering", "zorgverzekeraar", "burgemeester", "leerwerkplaats",
         "herintreder", "herintreders", "ik zorg"}
# Words that mean a sector only as the answer to the sector question ("haar", "po", "kas").
ANSWER_ONLY = {"haar", "po", "vo", "kas", "uta", "apk", "juf", "meester", "knippen", "salon", "mode",
               "food", "rail", "spoor", "ministerie", "sociale dienst"}
# Never the second half of a longer word: "woongemeente", "leerwerkplaats".
NO_TAIL = ANSWER_ONLY | {"gemeente", "werkplaats"}
# Words that are a sector in a conversation only after "in/bij/naar/voor (de/het/een)", or before
# "sector"/"branche": "ik werk in de bouw", not "ik heb geen energie" or "groen licht".
NEEDS_CUE = {"zorg", "energie", "groen", "techniek", "bouw", "welzijn", "industrie", "fabriek", "vervoer",
             "winkel", "restaurant", "hotel", "cafe", "garage", "werkplaats", "infra", "transport",
             "logistiek", "beveiliging", "verpleging", "verzorging", "reiniging", "landbouw", "agrarisch", "taxi", "gemeente",
             # jobs that are also people someone meets: "mijn docent", "mijn begeleider bij UWV"
             "docent", "leraar", "leerkracht", "begeleider", "coach"}
CUE_PREPOSITIONS = {"in", "bij", "naar", "voor", "uit", "binnen"}
JOB_CUES = {"als", "ben", "bent", "werk", "werkt", "werken"}   # "ik ben docent", "ik werk als begeleider"
CUE_ARTICLES = {"de", "het", "een", "t"}
CUE_AFTER = {"sector", "branche", "sectoren"}
OWNER_VERBS = {"heb", "hebben", "heeft", "zijn", "is", "ben", "run", "runnen", "bezit", "eigenaar"}
# "gemeente" is said about where people live all day: only with work in the same clause.
WORK_WORDS = {"werk", "werkt", "werken", "werkzaam", "gewerkt", "ambtenaar", "baan", "functie", "dienst", "job"}
# Inflections of a listed word: "lassers", "verzorgenden", "kappertje", "schoonmaakster".
INFLECTIONS = ("sters", "ster", "tjes", "tje", "jes", "je", "en", "es", "s", "e", "n")
# The second half of a compound whose first half names the sector: "installatiebedrijf".
COMPOUND_HEADS = ("bedrijfsleven", "bedrijven", "bedrijf", "branche", "sectoren", "sector", "organisatie",
                  "instelling", "fabriek", "bureau", "zaak", "medewerker", "medewerkster", "werker", "bewerker",
                  "monteur", "vakman", "wereld", "vak", "opleiding", "school", "winkel", "personeel", "afdeling")
FUZZY_MIN = 6              # shorter words match only exactly or inflected
FUZZY_ACCEPT = 88          # "instalateur" ~ installateur 96, "verpleegkundig" ~ verpleegkundige 97
FUZZY_ACCEPT_SHORT = 82    # up to 7 letters one wrong letter scores 83-86 ("horeka" ~ horeca)
SHORT_WORD = 7
# Words that say the person wants to go to the sector rather than works in it.
TOWARDS_WORDS = {"wil", "wilt", "willen", "zou", "graag", "naar", "overstappen", "overstap", "omscholen",
                 "omscholing", "omgeschoold", "switchen", "switch", "worden", "instromen", "instromer", "tot",
                 "beginnen", "starten", "interesse", "droom", "leren"}
CURRENT_WORDS = {"werk", "werkt", "werkzaam", "ben", "zit", "zitten", "zat", "was", "heb", "hebben", "wij",
                 "we", "ons", "onze", "gewerkt", "al"}
_CLAUSES = re.compile(r"[.,;:!?\n()]+|\s(?:en|maar|want|omdat|dus|of)\s", re.IGNORECASE)
_DONT_KNOW = re.compile(r"\b(?:weet\s+(?:ik\s+)?(?:het\s+)?niet|weet\s+niet|geen\s+(?:flauw\s+)?idee|onbekend|"
                        r"geen\s+sector|niet\s+zeker|snap\s+(?:ik\s+)?(?:de\s+vraag\s+)?niet|idk|dunno|"
                        r"no\s+idea|don'?t\s+know|weetniet|wn)\b", re.IGNORECASE)
_NOT_WORKING = re.compile(r"\b(?:ik\s+werk\s+(?:nu\s+|op\s+dit\s+moment\s+|momenteel\s+)?(?:niet|nergens)|"
                          r"geen\s+(?:werk|baan)|werkloos|zonder\s+werk|in\s+de\s+bijstand|thuis\s+zitten|"
                          r"ik\s+zoek\s+(?:nog\s+)?werk|(?:heb|had)\s+nog\s+nooit\s+gewerkt|niet\s+aan\s+het\s+werk)\b",
                          re.IGNORECASE)
_NO = re.compile(r"^\W*(?:nee|neen|no|nope|liever\s+niet|zeg\s+ik\s+liever\s+niet|geen)\b", re.IGNORECASE)
WEIGHT = {"phrase": 3.0, "exact": 2.0, "compound": 1.5, "fuzzy": 1.0}


@dataclass(frozen=True)
class SectorMatch:
    key: str           # "metaal"
    name: str          # "de metaal", for the texts
    word: str          # what matched, normalised ("lasser", "installatiebedrijf")
    how: str           # phrase, exact, compound, fuzzy (typo), key (a button or `gids route --sector`)
    towards: bool      # the person wants to go to this sector ("ik wil de techniek in")

    def as_dict(self) -> Dict:
        return {"key": self.key, "name": self.name, "word": self.word, "how": self.how, "towards": self.towards}


@dataclass(frozen=True)
class _Hit:
    keys: Tuple[str, ...]
    start: int
    word: str
    how: str
    towards: bool


def sector_name(key: str) -> str:
    return SECTOR_NAMES.get(key, key.replace("_", " "))


def says_not_working(texts: Iterable[str]) -> bool:
    """ "ik heb geen werk", "ik zit in de bijstand": then there is no sector to ask about."""
    return any(_NOT_WORKING.search(t or "") for t in texts)


def _words(value: Optional[str]) -> List[str]:
    return [w for w in (normalise(x) for x in (value or "").split(";")) if w]


class SectorIndex:
    """The sector words and the sector funds' services, in memory (the table is small)."""

    def __init__(self, phrases: Dict[str, Tuple[str, ...]], offers: Dict[str, Dict[str, List[Offer]]]):
        self.phrases = phrases                  # normalised phrase -> sector keys
        self.offers = offers                    # sector key -> topic -> offers
        self.keys = set(offers) | {k for ks in phrases.values() for k in ks}
        self._longest = max((len(p.split()) for p in phrases), default=1)
        self._fuzzy_targets = [p for p in phrases if " " not in p and len(p) >= FUZZY_MIN]

    @classmethod
    def load(cls, session: Session) -> "SectorIndex":
        partners = session.execute(select(Partner).where(Partner.sector.isnot(None), Partner.sector != "")
                                   .order_by(Partner.id)).scalars().all()
        phrases = cls.phrases_from((p.sector or "", p.sector_words or "") for p in partners)
        doubtful = doubtful_fields(session)
        offers: Dict[str, Dict[str, List[Offer]]] = {(p.sector or "").strip(): {} for p in partners}
        query = (select(Service, Partner).join(Partner, Service.partner_id == Partner.id)
                 .where(Partner.type == SECTOR_PARTNER_TYPE, Partner.sector.isnot(None)))
        for s, p in session.execute(query).all():
            offers.setdefault((p.sector or "").strip(), {}).setdefault(s.topic, []).append(
                make_offer(s, p, doubtful.get(p.id, set())))
        return cls(phrases, offers)

    @staticmethod
    def phrases_from(rows: Iterable[Tuple[str, str]]) -> Dict[str, Tuple[str, ...]]:
        """(sector key, ";"-separated words) rows → normalised phrase → the sector keys it names."""
        found: Dict[str, Dict[str, None]] = {}
        for key, words in rows:
            key = key.strip()
            # The key itself is a word for its sector ("metaal", "horeca"), not "zorg vvt".
            for word in _words(words) + ([normalise(key)] if key and "_" not in key else []):
                found.setdefault(word, {})[key] = None
        return {w: tuple(ks) for w, ks in found.items()}

    # -- cards --------------------------------------------------------------------------------
    def cards(self, key: str, topic: str, audience: Optional[str] = None,
              today: Optional[date] = None) -> List[ServiceCard]:
        """The sector's cards for this topic: the reachable ones (a phone, website, e-mail or
        address), or, when none is, the others; one per partner, at most MAX_SECTOR_CARDS."""
        audiences = default_audiences(topic, audience)
        today = today or date.today()
        rows = [o for o in self.offers.get(key, {}).get(topic, [])
                if o.audience in audiences and o.valid_on(today)]
        rows.sort(key=lambda o: (o.priority, audiences.index(o.audience), o.partner_name))
        rows = [o for o in rows if o.reachable] or rows
        cards: List[ServiceCard] = []
        seen: Set[str] = set()
        for o in rows:
            if o.partner_id not in seen:
                seen.add(o.partner_id)
                cards.append(replace(o.card, contact=dict(o.card.contact)))
        return cards[:MAX_SECTOR_CARDS]

    # -- reading text -------------------------------------------------------------------------
    def match_key(self, key: str) -> Optional[SectorMatch]:
        key = (key or "").strip()
        return SectorMatch(key, sector_name(key), key, "key", False) if key in self.keys else None

    def find(self, texts: Sequence[str] | str, prefer_towards: bool = False,
             answer: bool = False) -> Optional[SectorMatch]:
        """The sector the texts name, or None.

        ``answer``: the text answers "In welke sector werk je?", so every word of the table counts;
        otherwise words that are also everyday words need a sign that they are about work.
        ``prefer_towards``: when the texts name both the sector someone works in and one they want
        to go to, take the second (a career switcher's training question)."""
        if isinstance(texts, str):
            texts = [texts]
        hits: List[_Hit] = []
        for text in texts:
            for clause in _CLAUSES.split(text or ""):
                hits += self._hits(normalise(clause).split(), answer)
        if not hits:
            return None
        towards = [h for h in hits if h.towards]
        current = [h for h in hits if not h.towards]
        chosen = (towards if prefer_towards and towards else current or towards)
        scores: Dict[str, float] = {}
        for h in chosen:
            for k in h.keys:
                scores[k] = scores.get(k, 0.0) + (WEIGHT[h.how] + (1.0 if normalise(k) == h.word else 0.0)) / len(h.keys)
        key = min(scores, key=lambda k: (-scores[k], k not in UMBRELLAS, k))
        best = max((h for h in chosen if key in h.keys), key=lambda h: WEIGHT[h.how])
        return SectorMatch(key, sector_name(key), best.word, best.how, best.towards)

    def answer(self, text: str) -> str:
        """The reply to the sector question as a slot value: a sector key, UNKNOWN ("weet ik
        niet"), NOT_WORKING ("ik werk nu niet") or OTHER (a sector the table has no fund for)."""
        text = (text or "").strip()
        match = self.match_key(text) or self.find(text, answer=True)
        if match is not None:
            return match.key
        if text in NO_SECTOR:
            return text
        if _NOT_WORKING.search(text):
            return NOT_WORKING
        if not re.search(r"\w", text) or _DONT_KNOW.search(text) or _NO.match(text):
            return UNKNOWN
        return OTHER

    def _hits(self, tokens: List[str], answer: bool) -> List[_Hit]:
        hits: List[_Hit] = []
        used: Set[int] = set()
        for n in range(min(self._longest, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                if used & set(range(i, i + n)):
                    continue
                gram = " ".join(tokens[i:i + n])
                if gram in NEVER:
                    continue
                keys, how, word = self.phrases.get(gram), ("phrase" if n > 1 else "exact"), gram
                if keys is None and n == 1:
                    keys, how, word = self._one_word(gram)
                if not keys or (not answer and not self._about_work(word, how, tokens, i)):
                    continue
                used |= set(range(i, i + n))
                hits.append(_Hit(keys, i, tokens[i] if n == 1 else gram, how, _towards(tokens, i, n)))
        return hits

    def _one_word(self, token: str) -> Tuple[Optional[Tuple[str, ...]], str, str]:
        """(sector keys, how, the listed word) for a word that is not listed as it is."""
        if token in NEVER or len(token) < 3:
            return None, "", token
        for suffix in INFLECTIONS:  # "lassers", "verzorgenden"
            base = token[:-len(suffix)]
            if token.endswith(suffix) and len(base) >= 3 and base in self.phrases and base not in NEVER:
                return self.phrases[base], "exact", base
        for head in COMPOUND_HEADS:  # "installatiebedrijf", "bouwsector", "horecazaak"
            if token.endswith(head) and len(token) - len(head) >= 3:
                first = token[:-len(head)]
                for part in dict.fromkeys((first, first[:-1] if first[-1] in "se" else first,
                                           first[:-2] if first.endswith("en") else first)):
                    if len(part) >= 3 and part in self.phrases and part not in ANSWER_ONLY:
                        return self.phrases[part], "compound", part
                typo = self._typo(first)
                if typo:
                    return self.phrases[typo], "fuzzy", typo
        for cut in range(3, len(token) - 3):  # "wijkverpleegkundige", "kraamzorg", "buschauffeur"
            tail = token[cut:]
            if tail in self.phrases and " " not in tail and tail not in NO_TAIL:
                return self.phrases[tail], "compound", tail
        typo = self._typo(token)
        return (self.phrases[typo], "fuzzy", typo) if typo else (None, "", token)

    def _typo(self, token: str) -> Optional[str]:
        # Infinitives are other words ("begeleiden" is not "begeleider"): no typo match for them.
        if len(token) < FUZZY_MIN or (token.endswith("en") and not token.endswith("ien")):
            return None
        cutoff = FUZZY_ACCEPT_SHORT if len(token) <= SHORT_WORD else FUZZY_ACCEPT
        hit = process.extractOne(token, self._fuzzy_targets, scorer=fuzz.ratio, score_cutoff=cutoff)
        return hit[0] if hit else None

    @staticmethod
    def _about_work(word: str, how: str, tokens: List[str], i: int) -> bool:
        """In a conversation (not an answer), does this word here mean a sector?"""
        if word in ANSWER_ONLY:
            return False
        if word not in NEEDS_CUE or how == "compound":
            return True
        before = tokens[max(0, i - 2):i]
        after = tokens[i + 1:i + 2]
        cue = (bool(before) and before[-1] in CUE_PREPOSITIONS | JOB_CUES) or (
            len(before) == 2 and before[-1] in CUE_ARTICLES and before[0] in CUE_PREPOSITIONS | OWNER_VERBS)
        cue = cue or bool(set(after) & CUE_AFTER) or (
            bool(before) and before[-1] in CUE_ARTICLES and tokens[i + 1:i + 2] == ["in"]
            and len(tokens) <= i + 3)  # "ik wil de zorg in (gaan)"
        if word == "gemeente":  # "ik werk bij de gemeente", not "ik woon in de gemeente Zwolle"
            return cue and bool(WORK_WORDS & set(tokens)) and bool({"bij", "voor"} & set(before))
        return cue


def _towards(tokens: List[str], i: int, n: int) -> bool:
    """Does the clause say the person wants to go to this sector? The nearest sign before the
    word decides ("ik werk als lasser" vs "ik wil lasser worden"); "… worden" after it too."""
    after = tokens[i + n:i + n + 3]
    # "… worden", "… instromen", "de zorg in (gaan)" at the end of the clause
    if "worden" in after or "instromen" in after or after in (["in"], ["in", "gaan"], ["in", "stappen"]):
        return True
    for word in reversed(tokens[:i]):
        if word in TOWARDS_WORDS:
            return True
        if word in CURRENT_WORDS:
            return False
    return False


def sector_wanted(needs: Iterable[Optional[str]], audience: Optional[str], texts: Iterable[str]) -> bool:
    """Whether to ask "In welke sector werk je?": a need with a sectoral route, from an employer
    or from a person who works (not one who said they have no work, or a jobseeker)."""
    topic = sector_topic(needs)
    if topic is None:
        return False
    if topic in EMPLOYER_SECTOR_TOPICS:
        return True
    return audience != "werkzoekende" and not says_not_working(texts)


def sector_topic(needs: Iterable[Optional[str]]) -> Optional[str]:
    """The first need that has a sectoral route (needs come most urgent first)."""
    return next((t for t in needs if t in SECTOR_TOPICS), None)


def is_employer(topic: Optional[str]) -> bool:
    return topic in EMPLOYER_TOPICS
