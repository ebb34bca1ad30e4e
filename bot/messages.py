"""Texts the custom actions compose (partner cards, place questions). B1 Dutch, "je", short
sentences; tests/test_b1.py checks every one of them like the responses in domain.yml."""
from __future__ import annotations

from typing import Dict, List

TOPIC_NAMES = {
    "ask_retraining": "omscholing of een opleiding",
    "ask_debt_help": "schulden",
    "ask_language_help": "Nederlands leren",
    "ask_vacancies": "werk zoeken",
    "ask_benefits": "een uitkering",
    "ask_career_advice": "advies over je werk",
    "ask_dismissal_help": "ontslag",
    "ask_apprenticeship": "leren en werken",
    "employer_hiring": "personeel zoeken",
    "employer_training": "je personeel opleiden",
}

ASK_PLACE = "In welke plaats woon je? Of wat is je postcode? Dan zoek ik wie jou kan helpen."
ASK_PLACE_EMPLOYER = "In welke plaats zit je bedrijf? Dan zoek ik wie jou in die regio helpt."
ASK_PLACE_CHOOSE = "{name} ligt in meer dan één gemeente. Welke bedoel je?"
ASK_PLACE_SUGGEST = "Bedoel je misschien een van deze plaatsen?"
PLACE_UNKNOWN = "Ik ken de plaats '{place}' niet. Kijk of je het goed hebt geschreven."
PLACE_EMPTY = "Ik zie geen plaats. Typ de naam van je woonplaats of je postcode."
POSTCODE_INVALID = "'{place}' is geen goede postcode. Een postcode heeft 4 cijfers en 2 letters, zoals 9711 AB."
PLACE_ABROAD = "Je woont niet in Nederland. Ik ken alleen organisaties in Nederland. Misschien helpen deze je wel."
PLACE_FOUND = "Je woont in de gemeente {gemeente}. Dat hoort bij de regio {region}."
PLACE_FOUND_EMPLOYER = "Je bedrijf zit in de gemeente {gemeente}. Dat hoort bij de regio {region}."
DATABASE_DOWN = "Het lukt me nu niet om dit op te zoeken. Probeer het over een paar minuten opnieuw."
NO_PLACE_NATIONAL = "Dat is goed. Deze groepen helpen je overal in het land."
SERVICES_INTRO = "Hier vind je hulp bij {topic}:"
NO_SERVICES = "Ik weet nog niet wie je hierbij in jouw regio helpt. Kijk op werkcentrum.nl voor het Werkcentrum bij jou in de buurt."
SEVERAL_NEEDS = "Je hebt vragen over {needs}. Begin met {first}. Dat maakt de rest makkelijker."
UNVERIFIED = "Let op: het Werkcentrum heeft deze gegevens nog niet gecontroleerd. Kijk voor de zekerheid ook op de website."
CONTACT_LABELS = {"phone": "Bel", "phone_hours": "Bereikbaar", "website": "Website", "email": "Mail",
                  "address": "Adres", "opening_hours": "Open"}


def join_dutch(items: List[str]) -> str:
    """ "a", "a en b", "a, b en c" """
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " en " + items[-1]


def partner_card(card: Dict) -> str:
    """One partner as a short message: who, what they do for you, how to reach them."""
    lines = [f"{card['partner']}: {card['service']}"]
    if card.get("conditions"):
        lines.append(card["conditions"])
    for key in ("phone", "phone_hours", "website", "email", "address", "opening_hours"):
        value = card.get("contact", {}).get(key)
        if value:
            lines.append(f"{CONTACT_LABELS[key]}: {value}")
    return "\n".join(lines)


def all_texts() -> Dict[str, str]:
    """Every fixed text in this module, for the B1 check (placeholders filled with examples)."""
    examples = {"name": "Haren", "place": "Amstrdam", "gemeente": "Midden-Groningen", "region": "Groningen",
                "topic": "schulden", "needs": "schulden en werk zoeken", "first": "schulden"}
    out = {}
    for key, value in globals().items():
        if key.isupper() and isinstance(value, str):
            out[key] = value.format(**examples)
    return out
