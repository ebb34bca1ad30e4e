"""The transcript and summary of a handover, built from the conversation's Rasa events.

Staff read what the person and the gids said in this session, redacted (bot.privacy) except for the
contact details the person chose to share. A button click is shown as the button's title."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

from bot.handover import TranscriptEntry
from bot.messages import CHANNEL_LABELS, CONTACT_METHOD_LABELS, TOPIC_NAMES

PERSON, GIDS = "persoon", "gids"
MAX_LINE = 2000  # a 5,000-character message is kept readable; the start matters most


def _when(event: Dict[str, Any]) -> Optional[datetime]:
    ts = event.get("timestamp")
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)
    return None


def _current_session(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    start = 0
    for i, event in enumerate(events):
        if event.get("event") == "session_started":
            start = i
    return list(events[start:])


def _button_title(payload: str, buttons: Iterable[Dict[str, Any]]) -> Optional[str]:
    for button in buttons or ():
        if button.get("payload") == payload:
            return button.get("title")
    return None


def _bot_text(event: Dict[str, Any]) -> str:
    data = event.get("data") or {}
    parts = [event.get("text") or ""]
    custom = data.get("custom") or {}
    if not parts[0] and isinstance(custom, dict) and custom.get("partner"):
        parts[0] = f"{custom['partner']}: {custom.get('service', '')}"
    titles = [b.get("title", "") for b in data.get("buttons") or []]
    if titles:
        parts.append("[knoppen: " + " | ".join(titles) + "]")
    return "\n".join(p for p in parts if p)


def build_transcript(events: Sequence[Dict[str, Any]], keep: Iterable[str] = ()) -> List[TranscriptEntry]:
    from bot.privacy import redact

    keep = [k for k in keep if k]
    lines: List[TranscriptEntry] = []
    last_buttons: List[Dict[str, Any]] = []
    for event in _current_session(events):
        kind = event.get("event")
        if kind == "user":
            text = event.get("text") or ""
            if text.startswith("/"):
                text = _button_title(text, last_buttons) or "(knop gekozen)"
            elif not text.strip():
                text = "(leeg bericht)"
            lines.append(TranscriptEntry(PERSON, redact(text, keep=keep)[:MAX_LINE], _when(event)))
        elif kind == "bot":
            last_buttons = (event.get("data") or {}).get("buttons") or []
            text = _bot_text(event)
            if text:
                # A partner card's own phone number and e-mail come from the routing table, not
                # from the person: staff should still see them.
                custom = (event.get("data") or {}).get("custom") or {}
                contact = custom.get("contact") if isinstance(custom, dict) else None
                card_keep = list((contact or {}).get(k) for k in ("phone", "email")) if isinstance(contact, dict) else []
                lines.append(TranscriptEntry(GIDS, redact(text, keep=keep + [k for k in card_keep if k])[:MAX_LINE],
                                             _when(event)))
    return lines


def build_summary(*, topics: Sequence[str], gemeente_name: Optional[str], region_name: Optional[str],
                  place: Optional[str], reason: str, contact_method: str, channel: str,
                  partner_name: str) -> str:
    """A few lines for staff: what the question is about and where the person lives."""
    names = [TOPIC_NAMES.get(t, t) for t in topics]
    lines = []
    if reason == "request_human":
        lines.append("De persoon wil graag een medewerker spreken.")
    elif reason == "fallback":
        lines.append("De gids begreep de vraag niet. De persoon wil hulp van een medewerker.")
    if names:
        lines.append("Vraag over: " + ", ".join(names) + ".")
    if gemeente_name:
        lines.append(f"Woont in de gemeente {gemeente_name}" + (f" (regio {region_name})." if region_name else "."))
    elif place == "buitenland":
        lines.append("Woont niet in Nederland.")
    else:
        lines.append("Woonplaats niet genoemd.")
    method = CONTACT_METHOD_LABELS.get(contact_method, contact_method)
    lines.append(f"Wil contact via {method}. Doorgestuurd naar {partner_name}.")
    lines.append(f"Kanaal: {CHANNEL_LABELS.get(channel, channel)}.")
    return "\n".join(lines)
