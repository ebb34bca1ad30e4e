"""Dutch words and dates for the console pages. Times are stored as naive UTC and shown in
Dutch local time."""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

try:
    LOCAL: tzinfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # a slim image without tz data: say UTC rather than guess
    LOCAL = timezone.utc

from bot.messages import CHANNEL_LABELS, CONTACT_METHOD_LABELS, TOPIC_NAMES

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")

STATUS_NAMES = {"new": "Nieuw", "claimed": "Opgepakt", "closed": "Afgesloten"}
AUDIENCES = {"werkzoekende": "Werkzoekende", "werkende": "Werkende", "werkgever": "Werkgever"}
REASONS = {"routing": "De gids verwees door", "request_human": "Wilde een medewerker spreken",
           "fallback": "De gids begreep de vraag niet", "live_chat": "Gemaakt in een live chat"}
SPEAKERS = {"persoon": "Persoon", "gids": "Gids", "medewerker": "Medewerker"}
AUDIT_ACTIONS = {
    "view": "bekeken", "print": "afgedrukt", "export": "geëxporteerd (JSON)", "claim": "opgepakt",
    "close": "afgesloten", "note": "notitie geschreven", "forward": "doorgestuurd", "list": "in lijst (API)",
    "create": "gemaakt", "notify": "partner bericht gestuurd", "forget": "gewist", "purge": "gewist",
    "partner_change_propose": "wijziging voorgesteld", "partner_change_approve": "wijziging goedgekeurd",
    "partner_change_reject": "wijziging afgewezen", "coverage": "dekking bekeken",
    "live_request": "live chat gevraagd", "live_pickup": "live chat opgepakt", "live_view": "live chat bekeken",
    "live_returned": "live chat terug naar de gids", "live_ended": "live chat gestopt",
    "live_handover": "overdracht gemaakt uit live chat", "live_unanswered": "live chat niet opgepakt",
    "live_available": "beschikbaar voor live chat", "live_unavailable": "niet beschikbaar voor live chat",
    "live_hours": "tijden live chat gewijzigd",
}
PARTNER_TYPES = {
    "gemeente": "Gemeente", "uwv": "UWV", "vakbond": "Vakbond", "sbb": "SBB", "wsp": "Werkgeversservicepunt",
    "werkcentrum": "Werkcentrum", "onderwijs": "Onderwijs", "werkgeversorganisatie": "Werkgeversorganisatie",
    "taalhuis": "Taalhuis", "juridisch_loket": "Juridisch Loket", "schuldhulp": "Schuldhulp",
    "inburgering": "Inburgering", "leerwerkloket": "Leerwerkloket", "scholing_info": "Scholing",
    "crisis": "Crisishulp", "sectorfonds": "Sectorfonds",
}


def partner_type(kind: str) -> str:
    return PARTNER_TYPES.get(kind, kind)


def time_nl(value: Optional[datetime]) -> str:
    """'9.05 uur', local time."""
    return _time(local(value)) if value else ""


def topic_name(topic: str) -> str:
    name = TOPIC_NAMES.get(topic)
    return name[:1].upper() + name[1:] if name else topic


def local(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL)


def _time(value: datetime) -> str:
    return f"{value.hour}.{value.minute:02d} uur"


def date_nl(value: Optional[date]) -> str:
    """'maandag 4 mei 2026' (STYLE-B1: dates in words, numbers as digits)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value)
    return f"{DAYS[value.weekday()]} {value.day} {MONTHS[value.month - 1]} {value.year}"


def datetime_nl(value: Optional[datetime]) -> str:
    """'maandag 4 mei 2026, 9.05 uur'."""
    if value is None:
        return ""
    here = local(value)
    return f"{date_nl(value)}, {_time(here)}"


def when_nl(value: Optional[datetime], today: Optional[date] = None) -> str:
    """Short, for lists: 'vandaag 9.05 uur', 'gisteren 16.30 uur' or '4 mei 2026'."""
    if value is None:
        return ""
    here = local(value)
    today = today or datetime.now(LOCAL).date()
    if here.date() == today:
        return f"vandaag {_time(here)}"
    if (today - here.date()).days == 1:
        return f"gisteren {_time(here)}"
    return f"{here.day} {MONTHS[here.month - 1]} {here.year}"


def iso_local(value: Optional[datetime]) -> str:
    return local(value).isoformat(timespec="minutes") if value else ""


def _capitalised(label: Optional[str]) -> Optional[str]:
    return label[:1].upper() + label[1:] if label else label


def register(env: jinja2.Environment) -> None:
    env.filters.update(date_nl=date_nl, datetime_nl=datetime_nl, when_nl=when_nl, iso_local=iso_local,
                       topic_name=topic_name,
                       status_name=lambda s: STATUS_NAMES.get(s, s),
                       contact_method=lambda s: _capitalised(CONTACT_METHOD_LABELS.get(s, s)),
                       audience_name=lambda s: AUDIENCES.get(s, s),
                       reason_name=lambda s: REASONS.get(s, s),
                       channel_name=lambda s: _capitalised(CHANNEL_LABELS.get(s, s)),
                       speaker_name=lambda s: SPEAKERS.get(s, s),
                       audit_action=lambda s: AUDIT_ACTIONS.get(s, s),
                       partner_type=partner_type)
