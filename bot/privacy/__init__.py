"""Finding and redacting personal data in Dutch text: BSN, IBAN, phone numbers, e-mail addresses
and street addresses. Used for the tracker store (bot.privacy.tracker_store), logs
(bot.privacy.logging), and by anyone who stores or shows what a person typed.

What counts, and what deliberately does not:

- BSN: 9 digits that pass the elfproef (python-stdnum), also written in groups with dots, spaces
  or dashes ("123.456.782", "123 456 782", "1234.56.782"); every group has at least 2 digits, so
  a phone number such as "+31 6 1234 5678" never hides a BSN. 8 digits (a BSN whose leading 0 was
  dropped) only right after the word "bsn", "burgerservicenummer" or "sofinummer": 8-digit
  numbers are common (dates, amounts) and 1 in 11 passes the elfproef by chance. A number that
  fails the elfproef (an order number) stays.
- IBAN: any country, with or without spaces, any case, checked with stdnum.iban.
- Phone numbers: phonenumbers' matcher for region NL (06-, 020-, +31, 0031, foreign with + or
  00). Numbers of organisations stay: free (0800), paid (0900), shared-cost and corporate
  numbers (088, the gemeente's 14 0xx), and short numbers such as 112 and 113 are no phone
  number at all for the matcher. A person's own number is never one of those, and the gids
  itself names 0800-0113 and 112.
- E-mail addresses.
- Street addresses: a postcode with house number ("1234 AB 12", "1234AB, nr 5"), a street with
  house number ("Dorpsstraat 12", "Kerkweg 3a", "Laan van Meerdervoort 100") and anything with a
  house number after "mijn adres is" / "ik woon op". A place name or a postcode alone stays: the
  gids needs it to find the gemeente. A number followed by a unit ("bijbaan 12 uur") or a year
  is no house number.

``keep`` lists values the person chose to share (their contact phone or e-mail); they stay,
compared in normalised form, so "+31 6 1234 5678" keeps "06-12345678" too.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, FrozenSet, Iterable, List, Optional

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType
from stdnum import iban as _iban
from stdnum.nl import bsn as _bsn

__all__ = ["CONSENTED_SLOTS", "PLACEHOLDERS", "Match", "find_pii", "redact", "redact_event"]

# Slots that hold what the person consented to share for a handover: never redacted.
CONSENTED_SLOTS = ("contact_name", "contact_value")

PLACEHOLDERS = {
    "bsn": "[BSN]",
    "iban": "[IBAN]",
    "phone": "[telefoonnummer]",
    "email": "[e-mailadres]",
    "address": "[adres]",
}
# When two kinds claim exactly the same text, the first one here names it.
_PRIORITY = {kind: i for i, kind in enumerate(("email", "iban", "bsn", "phone", "address"))}


@dataclass(frozen=True)
class Match:
    kind: str    # bsn, iban, phone, email, address
    start: int
    end: int
    value: str   # the text as written


# --- e-mail -----------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")


def _emails(text: str) -> Iterable[Match]:
    for m in _EMAIL.finditer(text):
        yield Match("email", m.start(), m.end(), m.group())


# --- IBAN -------------------------------------------------------------------------------------
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}")
_IBAN_CHUNK = re.compile(r" ?[A-Za-z0-9]+")


def _ibans(text: str) -> Iterable[Match]:
    pos = 0
    while True:
        m = _IBAN_START.search(text, pos)
        if not m:
            return
        # Collect the chunks that may belong to it ("NL91 ABNA 0417 1643 00"), then take the
        # longest run of them that is a valid IBAN: the words after it are no part of it.
        ends, end, length = [], m.end(), 4
        while length < 34:
            chunk = _IBAN_CHUNK.match(text, end)
            if not chunk:
                break
            end = chunk.end()
            length += len(chunk.group().strip())
            ends.append(end)
        found = None
        for end in reversed(ends):
            candidate = text[m.start():end]
            if 15 <= len(candidate.replace(" ", "")) <= 34 and _iban.is_valid(candidate):
                found = Match("iban", m.start(), end, candidate)
                break
        if found:
            yield found
            pos = found.end
        else:
            pos = m.start() + 1


# --- BSN --------------------------------------------------------------------------------------
_DIGIT_RUN = re.compile(r"\d+(?:[ .\-]\d+)*")
_DIGITS = re.compile(r"\d+")
_BSN_CONTEXT = re.compile(r"(?i)\b(?:bsn|burgerservicenummer|sofi-?nummer|sofinr)\b\W{0,12}(?:is\W{1,3})?$")


def _bsns(text: str) -> Iterable[Match]:
    for run in _DIGIT_RUN.finditer(text):
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _DIGITS.finditer(run.group())]
        i = 0
        while i < len(groups):
            hit = None
            total = 0
            for j in range(i, len(groups)):
                total += groups[j][1] - groups[j][0]
                if total > 9:
                    break
                if j > i and any(e - s < 2 for s, e in groups[i:j + 1]):
                    break
                start, end = groups[i][0], groups[j][1]
                digits = re.sub(r"\D", "", text[start:end])
                if total == 9 or (total == 8 and _BSN_CONTEXT.search(text[max(0, start - 40):start])):
                    if _bsn.is_valid(digits):
                        hit = (j, Match("bsn", start, end, text[start:end]))
                        break
            if hit:
                yield hit[1]
                i = hit[0] + 1
            else:
                i += 1


# --- phone numbers ----------------------------------------------------------------------------
# Numbers of organisations, never of a person (see the module docstring).
_PUBLIC_NUMBER_TYPES = frozenset({PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
                                  PhoneNumberType.SHARED_COST, PhoneNumberType.UAN})


def _phones(text: str) -> Iterable[Match]:
    for m in PhoneNumberMatcher(text, "NL", leniency=Leniency.VALID):
        if phonenumbers.number_type(m.number) in _PUBLIC_NUMBER_TYPES:
            continue
        yield Match("phone", m.start, m.end, m.raw_string)


# --- street addresses -------------------------------------------------------------------------
# A house number: 1-4 digits, perhaps with an addition ("3a", "12 B", "12-2", "12 hs", "3-II").
_HOUSE_NO = (r"(?P<num>[1-9]\d{0,3})(?!\d)"
             r"(?P<add>-\d{1,3}(?!\d)|\s?-?\s?(?:[A-Za-z]|bis|hs|I{1,3})(?![\w]))?")
_NR = r"(?:(?i:nr|nummer|huisnummer|no)\.?:?\s*)?"
# Street words end in these (case-insensitive). Left out on purpose: "ring" (ervaring,
# uitkering), "baan" (bijbaan, loopbaan), "oord" (antwoord, akkoord): too common in this domain.
_STREET_SUFFIXES = ("straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|hof|park|pad|steeg|markt|"
                    "plantsoen|wal|veld|kanaal|haven|allee|boulevard|dam|brink|akker|hoeve|gaarde|"
                    "donk|kamp|vaart|vliet|poort|tuin|weide|zoom|hoven|horst|rade|stede|burcht|"
                    "hoek|passage|promenade|erf")
_NAME_WORD = r"(?:[A-Z][\w'’.-]*|van|de|der|den|het|'t|ter|ten|la|le|du)"
_SUFFIX_STREET = re.compile(
    r"(?<![\w-])(?P<street>(?:" + _NAME_WORD + r"\s+){0,4}"
    r"[^\W\d_][\w'’-]*?(?i:" + _STREET_SUFFIXES + r"))"
    r"(?:\s*,)?\s+" + _NR + _HOUSE_NO)
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
_POSTCODE_HOUSE = re.compile(r"(?<![\w])" + _POSTCODE + r"(?:\s*,\s*|\s+)" + _NR + _HOUSE_NO)
_POSTCODE_AFTER = re.compile(r"(?:\s*,\s*|\s+)" + _POSTCODE)
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
    if len(number) == 4 and re.match(_POSTCODE, text[m.start("num"):]):
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


def _trim_leading(text: str, start: int, end: int) -> int:
    """Skips greeting and function words a street pattern took in front of the street name."""
    while True:
        word = re.match(r"\S+\s+", text[start:end])
        if not word or word.group().strip().lower().rstrip(",") not in _LEADING_STOPWORDS:
            return start
        start += word.end()


def _addresses(text: str) -> Iterable[Match]:
    for pattern in (_SUFFIX_STREET, _PREFIX_STREET):
        for m in pattern.finditer(text):
            street = m.group("street")
            last_word = street.split()[-1].lower()
            if last_word in _STREET_STOPWORDS or not _house_number_ok(text, m):
                continue
            start = _trim_leading(text, m.start(), m.start("num"))
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


# --- keep: what the person consented to share ------------------------------------------------
def _phone_e164(value: str) -> Optional[str]:
    try:
        number = phonenumbers.parse(value, "NL")
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
    return "@" in text or any(c.isdigit() for c in text)


def _find(text: str, keep: FrozenSet[str]) -> List[Match]:
    if not text or not _could_hold_pii(text):
        return []
    found = [*_emails(text), *_ibans(text), *_bsns(text), *_phones(text), *_addresses(text)]
    kept = [m for m in found if _is_kept(m, keep)]
    # A kept value keeps everything inside it (a consented phone number may contain 9 digits
    # that happen to pass the elfproef).
    found = [m for m in found
             if not any(k.start <= m.start and m.end <= k.end for k in kept)]
    found.sort(key=lambda m: (m.start, -(m.end - m.start), _PRIORITY[m.kind]))
    merged: List[Match] = []
    for m in found:
        if merged and m.start < merged[-1].end:
            # Overlapping finds become one: redacting only the first would leak the rest.
            last = merged[-1]
            if m.end > last.end:
                merged[-1] = Match(last.kind, last.start, m.end, text[last.start:m.end])
            continue
        merged.append(m)
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
    """``text`` with every BSN, IBAN, phone number, e-mail and street address replaced by a
    Dutch placeholder ("[BSN]", "[IBAN]", "[telefoonnummer]", "[e-mailadres]", "[adres]"),
    except the values in ``keep``."""
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
    data, entities, metadata and slot values. The slots in CONSENTED_SLOTS are left as they are,
    and so is every value in ``keep``."""
    if not isinstance(event, dict):
        raise TypeError(f"redact_event() needs a dict, not {type(event).__name__}")
    if event.get("event") == "slot" and event.get("name") in CONSENTED_SLOTS:
        return copy.deepcopy(event)
    return _redact_value(event, _keep_set(keep))
