"""Finding and redacting personal data in Dutch text: BSN, IBAN, phone numbers, e-mail addresses,
street addresses and dates of birth. Used for the tracker store (bot.privacy.tracker_store), logs
(bot.privacy.logging), and by anyone who stores or shows what a person typed.

What counts, and what deliberately does not:

- BSN: 9 digits that pass the elfproef (python-stdnum), also written in groups with dots, dashes
  or spaces of any width (also NBSP U+00A0, narrow NBSP U+202F, thin space U+2009): "123.456.782",
  "123 456 782", "1234.56.782", "12 34 56 782", "123 456 78 2". The first and middle groups have
  at least 2 digits, only the last may have 1: a phone number such as "+31 6 1234 5678" (a
  1-digit group after the country code) never hides a BSN. A 1-digit last group also needs the
  same separator throughout and no date before it ("12-05-2024 9 uur" stays). 8 digits (a BSN whose leading 0 was
  dropped) only right after the word "bsn", "burgerservicenummer" or "sofinummer": 8-digit
  numbers are common (dates, amounts) and 1 in 11 passes the elfproef by chance. A number that
  fails the elfproef (an order number) stays. Letters glued to it do not matter ("mijnbsn123456782").
- IBAN: any country, any case, with or without spaces (of any width) or dashes, also between the
  country code and the check digits ("NL 91 ABNA 0417 1643 00", "NL91-ABNA-0417-1643-00"), also
  glued to a word ("iban:NL91ABNA0417164300"); exactly the length the IBAN registry gives the
  country, checked with stdnum.iban (mod 97 and the country's format).
- Phone numbers: valid numbers by phonenumbers' metadata (the types its number_type() gives, read
  straight from the metadata), written as people write them: 06-, 020-, 31, +31, 0031, "+31 (0)6",
  foreign with + or 00, with spaces of any width, dashes, dots, slashes or brackets between the
  groups, also glued to a word ("tel06-12345678"). A Dutch number written nationally has 10 digits
  (12 for 097). Numbers of organisations stay: free (0800), paid (0900), shared-cost and corporate
  numbers (088, the gemeente's 14 0xx), and short numbers such as 112 and 113 are no phone number at
  all. A person's own number is never one of those, and the gids itself names 0800-0113 and 112. A
  date, or digits with a time right after them ("01-02-2024 10:30"), are no phone number.
- E-mail addresses.
- Street addresses: a postcode with house number ("1234 AB 12", "1234AB, nr 5", "1234AB12"), a
  postcode and a house number later in the same sentence ("ik woon in 1234 AB op nummer 12"), a
  street with house number ("Dorpsstraat 12", "Kerkweg 3a", "Laan van Meerdervoort 100"), also
  abbreviated ("Dorpsstr. 12", "Kerkstr 5", "Jan van Galenstr. 14 hs") and anything with a house
  number after "mijn adres is" / "ik woon op". A place name or a postcode alone stays: the gids
  needs it to find the gemeente. A number followed by a unit ("bijbaan 12 uur") or a year is no
  house number.
- Dates of birth: a date said to be one ("geboren op 12-03-1985", "geboortedatum 12/03/1985",
  "geb. 12 maart 1985", "mijn geboortedatum is 1985-03-12", "ik ben 12-3-1985 geboren"), also
  without the year ("geboren op 3 april"). Any other date stays ("op 12 maart heb ik een
  gesprek"), and so does a year alone ("geboren in 1985").

``keep`` lists values the person chose to share (their contact phone or e-mail); they stay,
compared in normalised form, so "+31 6 1234 5678" keeps "06-12345678" too.

Time: every finder is linear in the length of the text. Candidates are bounded (a BSN spans 9
digits, an IBAN its country's length, a phone number at most 17 digits), the regular expressions
cannot backtrack over more than a bounded stretch, a candidate phone number is only looked up in
phonenumbers' metadata when it has the right length and leading digits for its country, and
overlapping finds are merged in one pass. 5,000 characters of adversarial text (digit runs with
every separator, "NL91", "@", street words) take a few milliseconds, 80,000 about a tenth of a
second (bench/privacy/REDACT.md); phonenumbers' own matcher took seconds, and gave up on a long
text after 65,535 failed candidates, so it missed the phone numbers after them.
"""
from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any, FrozenSet, Iterable, List, Optional, Tuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from stdnum import iban as _iban
from stdnum import numdb
from stdnum.nl import bsn as _bsn

__all__ = ["CONSENTED_SLOTS", "PLACEHOLDERS", "Match", "find_pii", "redact", "redact_event"]

# Slots that hold what the person consented to share for a handover. redact_event keeps them as
# they are; the tracker store only keeps the values the handover form accepted (tracker_store.py).
CONSENTED_SLOTS = ("contact_name", "contact_value")

PLACEHOLDERS = {
    "bsn": "[BSN]",
    "iban": "[IBAN]",
    "phone": "[telefoonnummer]",
    "email": "[e-mailadres]",
    "address": "[adres]",
    "birthdate": "[geboortedatum]",
}
# When two kinds claim exactly the same text, the first one here names it.
_PRIORITY = {kind: i for i, kind in enumerate(("email", "iban", "bsn", "phone", "birthdate", "address"))}


@dataclass(frozen=True)
class Match:
    kind: str    # bsn, iban, phone, email, address, birthdate
    start: int
    end: int
    value: str   # the text as written


# What people put between the groups of a number: spaces of every width (NBSP, figure space, thin
# space, hair space, narrow NBSP) and dashes (hyphen-minus, hyphen, non-breaking hyphen, figure
# dash, en dash). No newline: a number does not go on on the next line.
_SPACE_CHARS = " \u00a0\u2007\u2009\u200a\u202f"
_DASH_CHARS = "\\-\u2010\u2011\u2012\u2013"
_SPACE = f"[{_SPACE_CHARS}]"
_DIGITS = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")
# A date ("12-05-2024", "2024/05/12"): no phone number, and no BSN with a 1-digit group after it.
_DATE_LIKE = re.compile(r"(?<!\d)(?:[0-3]?\d([-/.])[01]?\d\1(?:19|20)\d\d|(?:19|20)\d\d([-/.])[01]?\d\2[0-3]?\d)(?!\d)")


# --- e-mail -----------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")


def _emails(text: str) -> Iterable[Match]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield Match("email", m.start(), m.end(), m.group())


# --- IBAN -------------------------------------------------------------------------------------
# Two letters and two check digits, perhaps with a separator between them ("NL 91"), glued to
# whatever comes before ("iban:NL91...", "rekeningNL91..."): the mod-97 check decides.
_IBAN_SEP = f"[{_SPACE_CHARS}{_DASH_CHARS}]"
_IBAN_START = re.compile(r"[A-Za-z]{2}" + _IBAN_SEP + r"?\d{2}")
_IBAN_DB = numdb.get("iban")
_BBAN_PART = re.compile(r"([1-9][0-9]*)!([nac])")
# Letters as the numbers mod 97 reads them: A=10 ... Z=35.
_IBAN_LETTERS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


_BBAN_CLASSES = {"n": "[0-9]", "a": "[A-Za-z]", "c": "[A-Za-z0-9]"}


@functools.lru_cache(maxsize=None)
def _iban_body(country: str) -> Optional["re.Pattern[str]"]:
    """The rest of an IBAN of ``country`` after its 4 first characters, as the IBAN registry
    describes it (for NL: 4 letters, 10 digits), with at most one separator between any two."""
    info = _IBAN_DB.info(country)
    bban = info[0][1].get("bban") if info and info[0][0] == country else None
    parts = _BBAN_PART.findall(bban or "")
    if not parts:
        return None
    return re.compile("".join(r"(?:" + _IBAN_SEP + r"?" + _BBAN_CLASSES[kind] + r"){" + count + r"}"
                              for count, kind in parts))


def _ibans(text: str) -> Iterable[Match]:
    pos = 0
    while True:
        m = _IBAN_START.search(text, pos)
        if not m:
            return
        pos = m.start() + 1
        body = _iban_body(text[m.start():m.start() + 2].upper())
        rest = body.match(text, m.end()) if body else None
        if not rest:
            continue
        candidate = text[m.start():rest.end()]
        number = re.sub(r"[^A-Za-z0-9]", "", candidate).upper()
        # The mod-97 check first (cheap), then stdnum for all it checks.
        if int((number[4:] + number[:4]).translate(_IBAN_LETTERS)) % 97 != 1:
            continue
        if _iban.is_valid(number):
            yield Match("iban", m.start(), rest.end(), candidate)
            pos = rest.end()


# --- BSN --------------------------------------------------------------------------------------
# Digit groups joined by one space, or by a dot or dash with perhaps a space on either side.
_BSN_RUN = re.compile(r"\d+(?:(?:" + _SPACE + r"?[." + _DASH_CHARS + r"]" + _SPACE + r"?|" + _SPACE + r")\d+)*")
_BSN_CONTEXT = re.compile(r"(?i)(?:bsn|burgerservicenummer|sofi-?nummer|sofinr)(?:-?(?:nummer|nr\.?))?"
                          r"\W{0,12}(?:is\W{1,3})?$")


def _one_digit_last_ok(text: str, groups: List[Tuple[int, int]]) -> bool:
    """A last group of 1 digit ("123 456 78 2") only with one separator throughout, and not after
    a date: "12-05-2024 9 uur" is no BSN."""
    separators = {text[groups[k][1]:groups[k + 1][0]] for k in range(len(groups) - 1)}
    return len(separators) == 1 and not _DATE_LIKE.search(text, groups[0][0], groups[-1][1])


def _bsns(text: str) -> Iterable[Match]:
    for run in _BSN_RUN.finditer(text):
        if run.end() - run.start() < 8:
            continue
        groups = [(g.start(), g.end()) for g in _DIGITS.finditer(text, run.start(), run.end())]
        # cum[k]: digits in the groups before group k; where[c] = k. A candidate from group i to
        # group j-1 holds cum[j] - cum[i] digits: one look-up finds the j for 9 (or 8) digits.
        cum = [0]
        for s, e in groups:
            cum.append(cum[-1] + e - s)
        where = {c: k for k, c in enumerate(cum)}
        # short[k]: groups of 1 digit before group k.
        short = [0]
        for s, e in groups:
            short.append(short[-1] + (e - s < 2))
        i = 0
        while i < len(groups):
            hit = None
            for total in (9, 8):
                j = where.get(cum[i] + total)
                if j is None:
                    continue
                if total == 8 and (i > 0 or not _BSN_CONTEXT.search(text, max(0, groups[i][0] - 40), groups[i][0])):
                    continue
                # First and middle groups at least 2 digits; the last may have 1 ("123 456 78 2").
                if short[j - 1] != short[i]:
                    continue
                start, end = groups[i][0], groups[j - 1][1]
                if j - i > 1 and short[j] != short[j - 1] and not _one_digit_last_ok(text, groups[i:j]):
                    continue
                digits = "".join(text[s:e] for s, e in groups[i:j])
                if _bsn.is_valid(digits):
                    hit = (j, Match("bsn", start, end, text[start:end]))
                    break
            if hit:
                yield hit[1]
                i = hit[0]
            else:
                i += 1


# --- phone numbers ----------------------------------------------------------------------------
# Numbers of organisations, never of a person (see the module docstring).
_PUBLIC_NUMBER_TYPES = frozenset({PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
                                  PhoneNumberType.SHARED_COST, PhoneNumberType.UAN})
# A phone-like run: perhaps "+", "(" or "(+" in front, then digit groups with 1 to 3 separators
# between them (spaces of any width, dashes, dots, slashes, brackets: "+31 (0)6 1234-5678").
_PHONE_SEP = "[" + _SPACE_CHARS + _DASH_CHARS + r"./()]"
_PHONE_RUN = re.compile(r"(?:\(?\+" + _SPACE + r"?|\()?\d+(?:" + _PHONE_SEP + r"{1,3}\d+)*")
# A time right after a candidate makes it no phone number.
_TIME_AFTER = re.compile(r":[0-5]\d(?!\d)")
_NL = 31
_MAX_PHONE_DIGITS = 17    # "00" + a 3-digit country code + 12 digits
# A Dutch national significant number has 9 digits (11 for the 097 numbers of machines): 0800 and
# 0900 numbers, the only other lengths, are organisations' and stay anyway.
_NL_LENGTHS, _NL_LENGTHS_9 = (9,), (11, 9)
# What phonenumbers does not know as punctuation is written the plain way before it parses.
_PHONE_PLAIN = str.maketrans({**{c: " " for c in _SPACE_CHARS}, **{c: "-" for c in "\u2010\u2011\u2012\u2013"}})


# The types phonenumbers tells apart, in the order its number_type() tries them.
_TYPE_ORDER = (("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
               ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
               ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
               ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL))


class _Desc:
    """A PhoneNumberDesc of phonenumbers' metadata, compiled once: its lengths and pattern."""

    def __init__(self, desc: Any) -> None:
        pattern = getattr(desc, "national_number_pattern", None)
        self.pattern = re.compile(pattern) if pattern else None
        self.lengths = frozenset(getattr(desc, "possible_length", None) or ())

    def matches(self, nsn: str) -> bool:
        if self.pattern is None or (self.lengths and len(nsn) not in self.lengths):
            return False
        return self.pattern.fullmatch(nsn) is not None


class _Region:
    """What phonenumbers' number_type() reads of one region's metadata, compiled once."""

    def __init__(self, metadata: Any) -> None:
        self.general = _Desc(metadata.general_desc)
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        self.types = [(_Desc(getattr(metadata, name)), kind) for name, kind in _TYPE_ORDER]
        self.fixed, self.mobile = _Desc(metadata.fixed_line), _Desc(metadata.mobile)
        self.same_fixed_and_mobile = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.prefix_zero = metadata.national_prefix == "0"

    def number_type(self, nsn: str) -> Optional[int]:
        # As phonenumbers' _number_type_helper, with None for UNKNOWN.
        if not self.general.matches(nsn):
            return None
        for desc, kind in self.types:
            if desc.matches(nsn):
                return kind
        if self.fixed.matches(nsn):
            if self.same_fixed_and_mobile or self.mobile.matches(nsn):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_fixed_and_mobile and self.mobile.matches(nsn):
            return PhoneNumberType.MOBILE
        return None


@functools.lru_cache(maxsize=None)
def _country(code: int) -> Optional[Tuple[Tuple[int, ...], "re.Pattern[str]", Tuple[_Region, ...], bool]]:
    """For a country calling code: the possible lengths of its national significant numbers
    (longest first), one pattern they all match, its regions' metadata, and whether its national
    prefix is "0" (which people write after the code: "+31 (0)6 ...", "+44 (0)20 ...")."""
    regions = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is not None and metadata.general_desc is not None:
            regions.append(_Region(metadata))
    lengths = {n for r in regions for n in r.general.lengths}
    patterns = [r.general.pattern.pattern for r in regions if r.general.pattern is not None]
    if not lengths or not patterns:
        return None
    return (tuple(sorted(lengths, reverse=True)), re.compile("|".join(f"(?:{p})" for p in patterns)),
            tuple(regions), any(r.prefix_zero for r in regions))


@functools.lru_cache(maxsize=8192)
def _phone_type(code: int, nsn: str) -> Optional[int]:
    """The type of the number +``code`` ``nsn`` (national significant number) as phonenumbers'
    number_type() gives it, or None if it is no valid number. Read from phonenumbers' metadata
    directly: parsing every candidate costs ten times more."""
    country = _country(code)
    if country is None:
        return None
    regions = country[2]
    if len(regions) == 1:
        return regions[0].number_type(nsn)
    for region in regions:
        # As region_code_for_number(): of the regions that share a calling code, one with leading
        # digits takes the numbers that start with them; any other the numbers valid in it.
        if region.leading is not None:
            if region.leading.match(nsn):
                return region.number_type(nsn)
        else:
            kind = region.number_type(nsn)
            if kind is not None:
                return kind
    return None


def _calling_code(digits: str, at: int) -> Optional[int]:
    if digits[at:at + 1] in ("", "0"):
        return None
    # Calling codes are prefix-free: at most one of the first 1, 2 or 3 digits is one.
    for n in (1, 2, 3):
        part = digits[at:at + n]
        if len(part) == n and int(part) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(part)
    return None


def _phone_shapes(digits: str, at: int, plus: bool) -> List[Tuple[int, int, int, "re.Pattern[str]"]]:
    """The shapes a phone number starting at ``digits[at]`` may have, longest first: how many
    digits it has, its calling code, where its national significant number begins, and the
    pattern that number matches. Empty if no phone number starts there (it needs "+", "00", "0" or "31" in front)."""
    international = plus or digits.startswith("00", at)
    if international:
        skip = at if plus else at + 2           # after "+" or "00": a calling code
        code = _calling_code(digits, skip)
        if code is None:
            return []
        nsn = skip + len(str(code))
    elif digits.startswith("0", at):
        code, nsn = _NL, at + 1                 # "06 ...", "020 ..."
    elif digits.startswith("31", at) and not digits.startswith("0", at + 2):
        code, nsn = _NL, at + 2                 # "31612345678": a WhatsApp id
    else:
        return []
    country = _country(code)
    if country is None:
        return []
    lengths, pattern, _, prefix_zero = country
    # "+31 (0)6 ...": the national prefix "0" after the calling code.
    extras = (1, 0) if international and prefix_zero and digits.startswith("0", nsn) else (0,)
    shapes = []
    for extra in extras:
        if code == _NL:
            lengths = _NL_LENGTHS_9 if digits.startswith("9", nsn + extra) else _NL_LENGTHS
        for n in lengths:
            total = nsn + extra + n - at
            if total <= _MAX_PHONE_DIGITS:
                shapes.append((total, code, nsn + extra, pattern))
    shapes.sort(key=lambda shape: -shape[0])
    return shapes


def _phones(text: str) -> Iterable[Match]:
    for run in _PHONE_RUN.finditer(text):
        if run.end() - run.start() < 7:
            continue        # fewer than 7 digits: no phone number (112, 113, 14 020, years)
        groups = [(g.start(), g.end()) for g in _DIGITS.finditer(text, run.start(), run.end())]
        digits = "".join(text[s:e] for s, e in groups)
        # cum[k]: digits in the groups before group k; where[c] = k. A candidate from group i to
        # group j-1 holds cum[j] - cum[i] digits: one look-up per shape finds its j.
        cum = [0]
        for s, e in groups:
            cum.append(cum[-1] + e - s)
        where = {c: k for k, c in enumerate(cum)}
        lead = text[run.start():groups[0][0]]
        i = 0
        while i < len(groups):
            found = None
            for total, code, nsn, pattern in _phone_shapes(digits, cum[i], plus=(i == 0 and "+" in lead)):
                j = where.get(cum[i] + total)
                if j is None or not pattern.fullmatch(digits, nsn, cum[j]):
                    continue
                start, end = groups[i][0], groups[j - 1][1]
                if i == 0 and lead:
                    # "+31 ...", "(+31) ...", "(020) ...": the "(" only when its ")" is inside.
                    if lead.startswith("(") and ")" in text[run.start():end]:
                        start = run.start()
                    elif "+" in lead:
                        start = run.start() + lead.index("+")
                candidate = text[start:end]
                if _DATE_LIKE.search(candidate) or _TIME_AFTER.match(text, end):
                    continue
                kind = _phone_type(code, digits[nsn:cum[j]])
                if kind is not None:
                    found = (j, None if kind in _PUBLIC_NUMBER_TYPES else Match("phone", start, end, candidate))
                    break
            if found:
                # A number of an organisation is passed over as a whole, not searched for others.
                if found[1] is not None:
                    yield found[1]
                i = found[0]
            else:
                i += 1


# --- street addresses -------------------------------------------------------------------------
# A house number: 1-4 digits, perhaps with an addition ("3a", "12 B", "12-2", "12 hs", "3-II").
_HOUSE_NO = (r"(?P<num>[1-9]\d{0,3})(?!\d)"
             r"(?P<add>-\d{1,3}(?!\d)|\s?-?\s?(?:[A-Za-z]|bis|hs|I{1,3})(?![\w]))?")
_NR = r"(?:(?i:nr|nummer|huisnummer|no)\.?:?\s*)?"
# Street words end in these (case-insensitive), after at least one more letter; also abbreviated
# ("Dorpsstr. 12", "Kerkstr 5", "Stationsln. 3"). Left out on purpose: "ring" (ervaring,
# uitkering), "baan" (bijbaan, loopbaan), "oord" (antwoord, akkoord): too common in this domain.
_STREET_SUFFIXES = ("straat laan weg plein gracht kade singel dijk dreef hof park pad steeg markt plantsoen "
                    "wal veld kanaal haven allee boulevard dam brink akker hoeve gaarde donk kamp vaart "
                    "vliet poort tuin weide zoom hoven horst rade stede burcht hoek passage promenade erf").split()
# The street word is taken whole (the lookahead and back-reference make it atomic), and then one
# look-behind per suffix length checks how it ends: no search for a suffix at every letter of
# every word.
_STREET_WORD = (r"(?=(?P<word>[^\W\d_][\w'’-]+))(?P=word)(?i:"
                + "|".join("(?<=[\\w'’-](?:" + "|".join(s for s in _STREET_SUFFIXES if len(s) == n) + "))"
                           for n in sorted({len(s) for s in _STREET_SUFFIXES}))
                + r"|(?<=[\w'’-]str)\.?|(?<=[\w'’-]ln)\.)")
_NAME_WORD = r"(?:[A-Z][\w'’.-]*|van|v\.|de|der|den|het|'t|ter|ten|la|le|du)"
# The street word and its house number; up to 4 name words before it ("Jan van Galenstr. 14",
# "Burg. de Withstraat 7") are taken by _street_start(), walking back from the street word: a
# pattern that tried them at every capitalised word would try the street word 5 times there.
_SUFFIX_STREET = re.compile(r"(?<![\w-])(?P<street>" + _STREET_WORD + r")(?:\s*,)?\s+" + _NR + _HOUSE_NO)
_NAME_WORD_RE = re.compile(_NAME_WORD)
# Streets whose name starts with the kind of street: "Laan van Meerdervoort 100", "Lange Voorhout 9".
_PREFIX_STREET = re.compile(
    r"(?<![\w-])(?P<street>(?:Laan|Plein|Markt|Kade|Singel|Gracht|Dijk|Dreef|Weg|Hof|Park|Burgwal|"
    r"Steeg|Oude|Nieuwe|Lange|Korte|Hoge|Lage|Grote|Kleine|Achter|Binnen|Buiten|Sint|St\.)"
    r"(?:\s+" + _NAME_WORD + r"){1,3})(?:\s*,)?\s+" + _NR + _HOUSE_NO)
# Anything with a house number right after the person says it is their address.
_CONTEXT_ADDRESS = re.compile(
    r"(?i:\b(?:(?:mijn|ons|het)\s+)?(?:woon|post|huis)?adres(?:\s+is)?\s*:?"
    r"|\b(?:ik|wij|we)\s+wo(?:on|nen)\s+(?:op|aan)(?:\s+(?:de|het|'t))?"
    r"|\bwoonachtig\s+(?:op|aan)(?:\s+(?:de|het|'t))?)\s+"
    r"(?P<street>(?:[^\W\d_][\w'’.-]*\s+){1,4}?)" + _NR + _HOUSE_NO)
_POSTCODE = r"[1-9]\d{3}\s?(?P<letters>[A-Za-z]{2})(?![A-Za-z])"
# "1234 AB 12", "1234AB, nr 5", and glued: "1234AB12".
_POSTCODE_HOUSE = re.compile(r"(?<![\w])" + _POSTCODE + r"(?:\s*,\s*|\s+|(?=[1-9]))" + _NR + _HOUSE_NO)
# A postcode and, later in the same sentence, a house number said to be one ("ik woon in 1234 AB
# op nummer 12"), or the other way round. The gap is bounded: no backtracking over long texts.
_HOUSE_WORD = r"(?<![^\W\d_])(?i:huisnummer|nummer|nr\.?|no\.)\s*(?:(?i:is)\s+)?:?\s*"
_POSTCODE_THEN_HOUSE = re.compile(r"(?<![\w])" + _POSTCODE + r"[^.!?\n\d]{1,60}?" + _HOUSE_WORD + _HOUSE_NO)
_HOUSE_THEN_POSTCODE = re.compile(_HOUSE_WORD + _HOUSE_NO + r"[^.!?\n\d]{1,60}?(?<![\w])" + _POSTCODE)
_POSTCODE_AFTER = re.compile(r"(?:\s*,\s*|\s+)" + _POSTCODE)
_POSTCODE_AT = re.compile(_POSTCODE)
# A number followed by one of these is an amount or a duration, not a house number.
_UNIT_AFTER = re.compile(
    r"\s*(?i:uur|uren|jaar|jaren|jr|euro|eur|€|keer|x|dag|dagen|week|weken|wk|maand|maanden|"
    r"minuten|min|seconden|procent|%|km|kilometer|meter|m2|kinderen|kind|personen|mensen|"
    r"medewerkers|werknemers|collega'?s|stuks|kg|cm|punten|vacatures|banen|hoog|verdieping)(?!\w)")
# Two lowercase letters after 4 digits that form a word are no postcode: "1500 en 12".
_NOT_POSTCODE_LETTERS = frozenset(
    "al an at da de en er es ga ik in is je ja na nu of om op te tv uw we ze zo".split())
_STREET_STOPWORDS = frozenset({"onderweg", "halfweg", "arbeidsmarkt", "banenmarkt", "werkveld",
                               "speelveld", "leerpad"})
_LEADING_STOPWORDS = frozenset({"ik", "mijn", "wij", "we", "hallo", "hoi", "hey", "beste", "dag",
                                "goedemorgen", "goedemiddag", "goedenavond", "ja", "nee", "dus",
                                "en", "maar", "of", "de", "het", "'t", "van", "op", "in", "aan"})


def _postcode_ok(m: "re.Match[str]") -> bool:
    letters = m.group("letters")
    spaced = m.string[m.start("letters") - 1].isspace()
    return not (letters.islower() and letters in _NOT_POSTCODE_LETTERS and spaced)


def _house_number_ok(text: str, m: "re.Match[str]") -> bool:
    number = m.group("num")
    if len(number) == 4 and 1900 <= int(number) <= 2099:
        return False  # a year
    if _UNIT_AFTER.match(text, m.end("num")):
        return False
    if len(number) == 4 and _POSTCODE_AT.match(text, m.start("num")):
        return False  # "Rotterdam 3013 AB": a postcode, not a house number
    return True


def _address_end(text: str, m: "re.Match[str]") -> int:
    """The end of an address match, with the addition that is really one and a postcode after it."""
    end = m.end()
    if m.group("add") and _UNIT_AFTER.match(text, m.end("num")):
        end = m.end("num")
    after = _POSTCODE_AFTER.match(text, end)
    if after and _postcode_ok(after):
        end = after.end()
    return end


_WORD = re.compile(r"\S+\s+")


def _trim_leading(text: str, start: int, end: int) -> int:
    """Skips greeting and function words a street pattern took in front of the street name."""
    while True:
        word = _WORD.match(text, start, end)
        if not word or word.group().strip().lower().rstrip(",") not in _LEADING_STOPWORDS:
            return start
        start = word.end()


def _street_start(text: str, start: int, limit: int) -> int:
    """Where a street whose last word starts at ``start`` begins: up to 4 name words before it,
    each followed by white space, none before ``limit``."""
    for _ in range(4):
        end = start
        while end > limit and text[end - 1].isspace():
            end -= 1
        if end == start:
            return start
        begin = end
        while begin > limit and not text[begin - 1].isspace():
            begin -= 1
        if begin == end or (begin == limit and begin > 0 and not text[begin - 1].isspace()) \
                or not _NAME_WORD_RE.fullmatch(text, begin, end):
            return start
        start = begin
    return start


def _addresses(text: str) -> Iterable[Match]:
    limit = 0
    for pattern in (_SUFFIX_STREET, _PREFIX_STREET):
        for m in pattern.finditer(text):
            street = m.group("street")
            last_word = street.split()[-1].lower()
            if last_word in _STREET_STOPWORDS or not _house_number_ok(text, m):
                continue
            start = m.start()
            if pattern is _SUFFIX_STREET:
                start, limit = _street_start(text, start, limit), m.end()
            start = _trim_leading(text, start, m.start("num"))
            if start >= m.start("num") or not text[start:m.start("num")].strip():
                continue
            end = _address_end(text, m)
            yield Match("address", start, end, text[start:end])
    for m in _CONTEXT_ADDRESS.finditer(text):
        if not _house_number_ok(text, m):
            continue
        start = m.start("street")
        end = _address_end(text, m)
        yield Match("address", start, end, text[start:end])
    for m in _POSTCODE_HOUSE.finditer(text):
        if not _postcode_ok(m) or not _house_number_ok(text, m):
            continue
        end = _address_end(text, m)
        yield Match("address", m.start(), end, text[m.start():end])
    for m in _POSTCODE_THEN_HOUSE.finditer(text):
        if _postcode_ok(m) and _house_number_ok(text, m):
            end = _address_end(text, m)
            yield Match("address", m.start(), end, text[m.start():end])
    for m in _HOUSE_THEN_POSTCODE.finditer(text):
        if _postcode_ok(m) and _house_number_ok(text, m):
            start = m.start("num")
            yield Match("address", start, m.end(), text[start:m.end()])


# --- dates of birth ---------------------------------------------------------------------------
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_MONTH_NAMES = (r"(?i:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
                r"december|jan|feb|mrt|apr|jun|jul|aug|sept|sep|okt|nov|dec)\.?")
_DATE_SEP = r"(?:\s?[./" + _DASH_CHARS + r"]\s?|" + _SPACE + r")"
_BIRTH_DATE = (
    r"(?<!\d)(?:" + _DAY + r"(?P<sep>" + _DATE_SEP + r")" + _MONTH + r"(?P=sep)(?:(?:19|20)\d\d|\d\d)"  # 12-03-1985
    + r"|(?:19|20)\d\d(?P<isep>[./" + _DASH_CHARS + r"])" + _MONTH + r"(?P=isep)" + _DAY           # 1985-03-12
    + r"|" + _DAY + r"\s?" + _MONTH_NAMES + r"(?:\s?(?:(?:19|20)\d\d|'\d\d))?"                      # 12 maart 1985
    + r"|(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d\d"                                     # 12031985
    + r")(?!\d)")
# Said to be a date of birth: "geboren (op)", "geboortedatum (is)", "geb.", "geb.datum", before it;
# or "geboren" right after it ("ik ben op 12 maart 1985 geboren").
_BIRTH_BEFORE = re.compile(
    r"(?<![^\W\d_])(?i:geboortedatum|geboortedag|geboren|geb\.?\s?datum|gebdat|geb)(?![^\W\d_])\.?"
    r"[\s:,]*(?:(?i:op|is|de|den|was)[\s:,]+){0,3}(?P<date>" + _BIRTH_DATE + r")")
_BIRTH_AFTER = re.compile(r"(?P<date>" + _BIRTH_DATE + r")(?=[\s,]{1,3}(?i:geboren)(?![^\W\d_]))")


def _birthdates(text: str) -> Iterable[Match]:
    if "geb" not in text.lower():
        return      # every way of saying it is a date of birth starts with "geb"
    for pattern in (_BIRTH_BEFORE, _BIRTH_AFTER):
        for m in pattern.finditer(text):
            start, end = m.span("date")
            yield Match("birthdate", start, end, text[start:end])


# --- keep: what the person consented to share ------------------------------------------------
@functools.lru_cache(maxsize=1024)
def _phone_e164(value: str) -> Optional[str]:
    try:
        number = phonenumbers.parse(value.translate(_PHONE_PLAIN), "NL")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _compact(value: str) -> str:
    return re.sub(r"[\W_]", "", value).upper()


def _normal_forms(value: str) -> FrozenSet[str]:
    forms = {_compact(value), value.strip().lower()}
    e164 = _phone_e164(value)
    if e164:
        forms.add(e164)
    forms.discard("")
    return frozenset(forms)


def _keep_set(keep: Iterable[Any]) -> FrozenSet[str]:
    forms: set = set()
    for value in keep or ():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            forms |= _keep_set(value)
        else:
            forms |= _normal_forms(str(value))
    return frozenset(forms)


def _is_kept(match: Match, keep: FrozenSet[str]) -> bool:
    if not keep:
        return False
    if match.kind == "phone":
        return _phone_e164(match.value) in keep
    if match.kind == "email":
        return match.value.strip().lower() in keep
    return _compact(match.value) in keep


# --- finding and redacting --------------------------------------------------------------------
def _could_hold_pii(text: str) -> bool:
    # Every kind needs a digit, except an e-mail address, which needs an "@".
    return "@" in text or _ANY_DIGIT.search(text) is not None


def _find(text: str, keep: FrozenSet[str]) -> List[Match]:
    if not text or not _could_hold_pii(text):
        return []
    found = [*_emails(text), *_ibans(text), *_bsns(text), *_phones(text), *_addresses(text),
             *_birthdates(text)]
    found.sort(key=lambda m: (m.start, -(m.end - m.start), _PRIORITY[m.kind]))
    if keep:
        # A kept value keeps everything inside it (a consented phone number may contain 9 digits
        # that happen to pass the elfproef). One pass in order of start: a find lies inside a
        # kept one if a kept find that starts no later reaches at least as far.
        kept = [m for m in found if _is_kept(m, keep)]
        if kept:
            inside, k, reach = [], 0, -1
            for m in found:
                while k < len(kept) and kept[k].start <= m.start:
                    reach = max(reach, kept[k].end)
                    k += 1
                inside.append(m.end <= reach)
            found = [m for m, covered in zip(found, inside) if not covered]
    # Overlapping finds become one: redacting only the first would leak the rest. A chain of them
    # ("1234 AB 12 1234 AB 12 ...") is one find; its text is cut once, at the end.
    merged: List[Match] = []
    end = -1
    for m in found:
        if merged and m.start < end:
            end = max(end, m.end)
            continue
        if merged and end != merged[-1].end:
            last = merged[-1]
            merged[-1] = Match(last.kind, last.start, end, text[last.start:end])
        merged.append(m)
        end = m.end
    if merged and end != merged[-1].end:
        last = merged[-1]
        merged[-1] = Match(last.kind, last.start, end, text[last.start:end])
    return merged


def find_pii(text: str, keep: Iterable[str] = ()) -> List[Match]:
    """The personal data in ``text``, in order and without overlaps; ``keep`` values are left out."""
    return _find(text, _keep_set(keep))


def _redact(text: str, keep: FrozenSet[str]) -> str:
    matches = _find(text, keep)
    if not matches:
        return text
    parts, pos = [], 0
    for m in matches:
        parts.append(text[pos:m.start])
        parts.append(PLACEHOLDERS[m.kind])
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts)


def redact(text: str, keep: Iterable[str] = ()) -> str:
    """``text`` with every BSN, IBAN, phone number, e-mail, street address and date of birth
    replaced by a Dutch placeholder ("[BSN]", "[IBAN]", "[telefoonnummer]", "[e-mailadres]",
    "[adres]", "[geboortedatum]"), except the values in ``keep``."""
    if not isinstance(text, str):
        raise TypeError(f"redact() needs a str, not {type(text).__name__}")
    return _redact(text, _keep_set(keep))


# Keys of a Rasa event whose values are names, ids and numbers of the dialogue machinery, never
# something a person typed: left as they are so the tracker still loads.
_STRUCTURAL_KEYS = frozenset({"event", "name", "timestamp", "policy", "confidence", "message_id",
                              "input_channel", "entity", "extractor", "role", "group",
                              "intent_ranking", "start", "end", "processors"})


def _redact_value(value: Any, keep: FrozenSet[str]) -> Any:
    if isinstance(value, str):
        return _redact(value, keep)
    if isinstance(value, dict):
        return {k: (v if k in _STRUCTURAL_KEYS else _redact_value(v, keep)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, keep) for v in value]
    return value


def redact_event(event: dict, keep: Iterable[str] = ()) -> dict:
    """A redacted copy of a Rasa event dict (``Event.as_dict()``): user and bot texts, parse
    data, entities, metadata and slot values. The slots in CONSENTED_SLOTS are left as they are
    (only for callers that already checked the value: the tracker store passes the contact slots
    it did not accept under a blank name, so they are redacted), and so is every value in ``keep``."""
    if not isinstance(event, dict):
        raise TypeError(f"redact_event() needs a dict, not {type(event).__name__}")
    if event.get("event") == "slot" and event.get("name") in CONSENTED_SLOTS:
        return copy.deepcopy(event)
    return _redact_value(event, _keep_set(keep))
