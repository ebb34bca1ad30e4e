"""What a person answers to the handover questions: their name, how they want to be contacted,
and the phone number or e-mail address. Validated with phonenumbers and email-validator.

Rasa's form puts the raw answer in the slot before validate_handover_form checks it. The
validation action marks the SlotSet events of the name and contact value it accepted with
``ACCEPTED_MARK`` in their metadata; the tracker store (bot.privacy.tracker_store) keeps only
those values unredacted, and checks them again with ``is_accepted_contact``."""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Any, Optional, Tuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

PHONE, EMAIL, WHATSAPP = "phone", "email", "whatsapp"
MAX_NAME_LENGTH = 80
# The metadata key of a SlotSet event whose contact_name or contact_value validate_handover_form
# accepted (its value: True).
ACCEPTED_MARK = "gids_accepted_contact"

# How people say which way they want to be reached (button titles included).
_METHOD_WORDS = (
    (WHATSAPP, ("whatsapp", "whats app", "whatsap", "watsapp", "wats app", "appen", "app me", "app")),
    (EMAIL, ("e-mail", "email", "e mail", "mail", "mailen", "mailtje")),
    (PHONE, ("bellen", "bel me", "bel mij", "bel", "telefoon", "telefonisch", "phone", "call", "sms",
             "nummer")),
)
_NAME_LEADS = re.compile(
    r"^\s*(?:hoi|hallo|hey|dag)?[\s,!.]*(?:ik\s+heet|mijn\s+naam\s+is|mijn\s+naam|naam\s*:|naam\s+is|"
    r"ik\s+ben|dit\s+is|je\s+spreekt\s+met|my\s+name\s+is|i\s+am|i'm)\s+", re.IGNORECASE)
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ '’.\-][^\W\d_]*)*\.?$", re.UNICODE)
_TAG = re.compile(r"<[^>]*>")


def parse_contact_method(text: str) -> Optional[str]:
    """phone, email or whatsapp from "bel me maar", "Mail", "via WhatsApp graag"; None if unclear."""
    low = " " + re.sub(r"[^\w\s-]", " ", (text or "").lower()) + " "
    for method, words in _METHOD_WORDS:
        if any(f" {w} " in low for w in words):
            return method
    return None


def normalise_phone(text: str, mobile_only: bool = False) -> Optional[str]:
    """An E.164 number (+31612345678) when the text holds one valid phone number, else None.
    Dutch numbers may be written without country code; foreign ones need +country."""
    matches = list(phonenumbers.PhoneNumberMatcher(text or "", "NL"))
    if len(matches) == 1:
        number = matches[0].number
    else:
        try:  # the matcher is strict about context; a bare answer like "0612345678" parses directly
            number = phonenumbers.parse(text or "", "NL")
        except phonenumbers.NumberParseException:
            return None
    if not phonenumbers.is_valid_number(number):
        return None
    if mobile_only and phonenumbers.number_type(number) not in (
            phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """+31612345678 → 06 12345678 for Dutch numbers, international format otherwise."""
    try:
        number = phonenumbers.parse(e164, "NL")
    except phonenumbers.NumberParseException:
        return e164
    fmt = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 31
           else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, fmt)


def whatsapp_id_to_e164(wa_id: str) -> Optional[str]:
    """WhatsApp's sender id is the number without '+': '31612345678'."""
    digits = re.sub(r"\D", "", wa_id or "")
    return normalise_phone("+" + digits) if digits else None


_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def normalise_email(text: str) -> Optional[str]:
    """The e-mail address in the text, checked by email-validator (syntax and domain form; no DNS,
    which the action server may not reach), else None."""
    found = _EMAIL_IN_TEXT.findall(text or "")
    if len(found) != 1:
        return None
    try:
        return validate_email(found[0].rstrip("."), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def clean_name(text: str) -> Optional[str]:
    """The name from "ik heet Fatima el Amrani" or "jan de vries"; None when it does not look like a
    name (digits, links, HTML, one letter, a whole story)."""
    raw = unicodedata.normalize("NFC", html.unescape(text or ""))
    if _TAG.search(raw) or "@" in raw or "://" in raw:
        return None
    name = _NAME_LEADS.sub("", raw).strip(" \t\n.,!?")
    name = re.sub(r"\s+", " ", name)
    if not (2 <= len(name) <= MAX_NAME_LENGTH) or len(name.split()) > 6:
        return None
    if not _NAME_CHARS.match(name):
        return None
    # People often type their name in lower case; staff read "Jan de Vries" more easily.
    if name.islower():
        particles = {"van", "de", "der", "den", "het", "ter", "ten", "te", "la", "le", "el", "al", "bin", "ben"}
        words = name.split()
        name = " ".join(w if (i and w in particles) else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return name


def contact_from_text(text: str) -> Tuple[Optional[str], Optional[str]]:
    """A person who types their number or address straight away: (method, value) or (None, None)."""
    email = normalise_email(text)
    if email:
        return EMAIL, email
    phone = normalise_phone(text)
    if phone:
        return PHONE, phone
    return None, None


def is_accepted_contact(slot: str, value: Any) -> bool:
    """Whether ``value`` is what validate_handover_form stores in ``slot`` when it accepts an
    answer: for contact_name a name as clean_name gives it, for contact_value a valid phone number
    in E.164 or a valid e-mail address as normalise_email gives it. An answer as typed that still
    needed cleaning ("06 12345678", "ik heet Jan") is not, nor is a name with digits or an "@"."""
    if not isinstance(value, str) or not value:
        return False
    if slot == "contact_name":
        return clean_name(value) == value
    if slot == "contact_value":
        return value in (normalise_phone(value), normalise_email(value))
    return False
