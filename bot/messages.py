"""Texts the custom actions compose (partner cards, place questions). B1 Dutch, "je", short
sentences; tests/test_b1.py checks every one of them like the responses in domain.yml."""
from __future__ import annotations

from datetime import date
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
# No card for a topic gives a phone number, website, e-mail or address: say where to look.
NO_REACH = ("Ik heb nog geen telefoonnummer of website van deze groepen. "
            "Kijk op werkcentrum.nl. Daar vind je het Werkcentrum bij jou in de buurt.")
NO_REACH_GEMEENTE = ("Ik heb nog geen telefoonnummer of website van deze groepen. "
                     "Kijk op werkcentrum.nl of op de website van je gemeente: {website}")
VERIFIED_ON = "Gecontroleerd op {date}."
VERIFIED = "Het Werkcentrum keek dit na."  # verified, but no date is known
# --- the sectoral route (actions/routing.py, bot/routing/sectors.py) ---
ASK_SECTOR = "In welke sector werk je? Bijvoorbeeld zorg, techniek of bouw."
ASK_SECTOR_EMPLOYER = "In welke sector zit je bedrijf? Bijvoorbeeld zorg, techniek of bouw."
# (button, sector key or answer): at most 10 (a WhatsApp list), titles at most 20 characters.
SECTOR_BUTTONS = [("Zorg", "zorg"), ("Techniek", "techniek"), ("Bouw", "bouw"), ("Metaal", "metaal"),
                  ("Transport", "transport"), ("Horeca", "horeca"), ("Winkel", "detailhandel"),
                  ("Schoonmaak", "schoonmaak"), ("Weet ik niet", "onbekend"), ("Ik werk nu niet", "geen")]
SECTOR_BUTTONS_EMPLOYER = [("Zorg", "zorg"), ("Techniek", "techniek"), ("Bouw", "bouw"), ("Metaal", "metaal"),
                           ("Installatie", "installatie"), ("Transport", "transport"), ("Horeca", "horeca"),
                           ("Winkel", "detailhandel"), ("Schoonmaak", "schoonmaak"), ("Weet ik niet", "onbekend")]
SECTOR_INTRO = "Voor werk in {sector} is er ook hulp van de sector zelf:"
SECTOR_INTRO_EMPLOYER = "Voor bedrijven in {sector} is er ook hulp van de sector zelf:"
# No fund for the sector in the table, or the person does not know their sector.
SECTOR_NO_FUND = "Voor jouw sector ken ik geen opleidingsfonds. Het Werkcentrum en de vakbond helpen je verder."
SECTOR_NO_FUND_EMPLOYER = "Voor jouw sector ken ik geen opleidingsfonds. Het Werkcentrum zoekt met je mee."
SECTOR_UNKNOWN = "Dat geeft niet. Het Werkcentrum en de vakbond weten welke cao bij je werk hoort."
SECTOR_UNKNOWN_EMPLOYER = "Dat geeft niet. Het Werkcentrum zoekt met je uit welk fonds bij je bedrijf hoort."
SECTOR_NO_REACH = "Ik heb nog geen website of telefoonnummer van hen. Het Werkcentrum en de vakbond helpen je verder."
SECTOR_NO_REACH_EMPLOYER = "Ik heb nog geen website of telefoonnummer van hen. Het Werkcentrum helpt je verder."
# --- the handover (actions/handover.py) ---
CONSENT_ASK = ("Wil je dat {partner} contact met je opneemt? Dan geef ik hen je naam en hoe ze je bereiken. "
               "En dit gesprek, zonder je BSN of bankgegevens. We bewaren dit {days} dagen. Daarna wissen we alles.")
HUMAN_INTRO = "Je wilt graag iemand spreken. Dat kan."
WERKCENTRUM_STAFF = "iemand van het Werkcentrum"
CONSENT_YES = "Ja, graag"
CONSENT_NO = "Nee, dank je"
ASK_NAME = "Hoe heet je? Je voornaam is genoeg."
NAME_INVALID = "Dat lijkt me geen naam. Typ alleen je naam, bijvoorbeeld: Sara."
ASK_CONTACT_METHOD = "Hoe wil je dat ze contact met je opnemen?"
ASK_CONTACT_METHOD_WHATSAPP = ("Hoe wil je dat ze contact met je opnemen? "
                               "Via WhatsApp gebruiken ze dit nummer: {number}.")
METHOD_BUTTONS = {"phone": "Bel me", "email": "Mail me", "whatsapp": "WhatsApp"}
METHOD_INVALID = "Dat begreep ik niet. Kies: bellen, mailen of WhatsApp."
ASK_PHONE = "Op welk nummer kunnen ze je bellen?"
ASK_EMAIL = "Wat is je e-mailadres?"
ASK_WHATSAPP_NUMBER = "Op welk nummer heb je WhatsApp?"
PHONE_INVALID = "Dat nummer klopt niet. Typ het zo: 06 12345678. Of met landcode, zoals +32 470 123456."
EMAIL_INVALID = "Dat e-mailadres klopt niet. Typ het zo: naam@voorbeeld.nl."
METHOD_NAMES = {"phone": "de telefoon", "email": "e-mail", "whatsapp": "WhatsApp"}
# Labels for staff (handover summary, console; the console capitalises them).
CONTACT_METHOD_LABELS = {"phone": "bellen", "email": "e-mail", "whatsapp": "WhatsApp"}
CHANNEL_LABELS = {"socketio": "webchat", "whatsapp": "WhatsApp", "rest": "REST", "cmdline": "terminal"}
HANDOVER_DONE = "Gelukt! {partner} krijgt je vraag. Ze nemen contact met je op via {method}."
HANDOVER_REFERENCE = ("Je nummer is {reference}. Bewaar dit nummer goed. "
                      "Wil je dat we je gegevens wissen? Noem dan dit nummer.")
HANDOVER_ALREADY = "Je vraag is al doorgegeven. Je nummer is {reference}."
HANDOVER_DB_DOWN = ("Het lukt me nu niet om je gegevens op te slaan. Er is niets kwijt. "
                    "Probeer het zo nog een keer.")
RETRY_BUTTON = "Nog een keer"  # a button: at most 20 characters (WhatsApp)
HANDOVER_NO_PARTNER = ("Ik kan je vraag nu niet doorgeven. Kijk op werkcentrum.nl voor het Werkcentrum "
                       "bij jou in de buurt.")

# --- live chat with the Werkcentrum (bot/live, actions/live.py, the gateway's bot/gateway/live.py) ---
LIVE_OFFER = ("Wil je nu chatten met iemand van het Werkcentrum? Die persoon leest dan dit gesprek. "
              "Zonder je BSN of bankgegevens. We bewaren de chat {days} dagen. Daarna wissen we alles.")
LIVE_YES = "Ja, nu chatten"        # buttons: at most 20 characters (WhatsApp)
LIVE_NO = "Nee, dank je"
LIVE_WAITING = ("Even geduld. Ik zoek iemand van het Werkcentrum voor je. "
                "Dat duurt meestal niet langer dan {minutes} minuten.")
LIVE_OUTSIDE_HOURS = "Chatten met het Werkcentrum kan nu niet. Dat kan op {hours}."
LIVE_NOBODY_FREE = "Er is nu niemand van het Werkcentrum vrij om te chatten."
LIVE_NOT_FOUND = "Het lukt nu niet om iemand van het Werkcentrum te vinden. Sorry dat je moest wachten."
LIVE_DB_DOWN = "Het lukt me nu niet om de chat te starten. Er is niets kwijt."
# What the person reads while staff chat with them (the gateway sends these).
LIVE_JOINED = "Je praat nu met {name} van het Werkcentrum."
LIVE_RETURNED = "{name} geeft het gesprek terug aan de gids."
LIVE_ENDED = "{name} heeft de chat gestopt."
LIVE_HANDOVER = ("{name} heeft je vraag doorgegeven aan {partner}. Ze nemen contact met je op. "
                 "Je nummer is {reference}. Bewaar dit nummer goed.")
LIVE_CRISIS = ("Ben je in direct gevaar? Bel dan meteen 112. Denk je aan zelfmoord? Bel dan nu gratis 113 "
               "of 0800-0113. Daar is dag en nacht iemand voor je. Ik heb de medewerker ook gewaarschuwd.")
LIVE_NOT_DELIVERED = "Je bericht is niet aangekomen. Probeer het zo nog een keer."
# For staff, in the console (not B1-checked as the gids's own words, but kept plain too).
LIVE_STAFF_CRISIS = ("Let op: deze persoon schrijft over acuut gevaar of zelfmoord. "
                     "De gids heeft 112 en 113 genoemd.")
LIVE_QUICK_TEXTS = (
    "Hallo, ik ben {name} van het Werkcentrum. Waar kan ik je mee helpen?",
    "Dank je. Ik kijk even voor je. Een moment.",
    "Mag ik je telefoonnummer of e-mailadres? Dan kan een collega contact met je opnemen.",
    "Ik geef je vraag door aan een collega. Die neemt contact met je op.",
    "Heb je nog een vraag?",
    "Bedankt voor het gesprek. Succes!",
)

# The gateway's own answers, when a message does not reach the gids.
MESSAGE_TOO_LONG = "Je bericht is te lang. Stuur je vraag in een paar kortere berichten."
SLOW_DOWN = "Je stuurt veel berichten snel na elkaar. Wacht even en stuur je bericht dan opnieuw."
GIDS_DOWN = "De gids is nu even niet bereikbaar. Je bericht is niet aangekomen. Probeer het over een paar minuten opnieuw."

CONTACT_LABELS = {"phone": "Bel", "phone_hours": "Bereikbaar", "website": "Website", "email": "Mail",
                  "address": "Adres", "opening_hours": "Open"}


DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
          "oktober", "november", "december")


def dutch_date(day: date) -> str:
    """ "maandag 4 mei 2026" (STYLE-B1: dates in words)."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def region_label(name: str) -> str:
    """ "Regio Zwolle" → "Zwolle": the texts already say "de regio {region}"."""
    return name[len("regio "):] if name and name.lower().startswith("regio ") else name


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
            # A postbus is where letters go, not where you walk in.
            postal = key == "address" and str(value).lower().startswith("postbus")
            lines.append(f"{'Postadres' if postal else CONTACT_LABELS[key]}: {value}")
    if card.get("verified") is True:
        lines.append(_verified_line(card.get("verified_on")))
    return "\n".join(lines)


def _verified_line(verified_on: object) -> str:
    """The card's "gecontroleerd op <datum>" (an ISO date in the card's JSON, or a date)."""
    day = verified_on if isinstance(verified_on, date) else None
    if isinstance(verified_on, str):
        try:
            day = date.fromisoformat(verified_on[:10])
        except ValueError:
            day = None
    return VERIFIED_ON.format(date=dutch_date(day)) if day else VERIFIED


def all_texts() -> Dict[str, str]:
    """Every fixed text in this module, for the B1 check (placeholders filled with examples)."""
    examples = {"name": "Haren", "place": "Amstrdam", "sector": "de metaal", "gemeente": "Midden-Groningen", "region": "Groningen",
                "topic": "schulden", "needs": "schulden en werk zoeken", "first": "schulden",
                "partner": "Gemeente Zwolle", "days": 90, "number": "06 12345678", "method": "de telefoon",
                "reference": "WC-2026-000123", "website": "https://www.zwolle.nl", "date": "maandag 4 mei 2026",
                "minutes": 2, "hours": "maandag tot en met vrijdag van 9:00 tot 17:00"}
    out = {}
    for key, value in globals().items():
        if key.isupper() and isinstance(value, str):
            out[key] = value.format(**examples)
        elif key.isupper() and key.endswith("_TEXTS") and isinstance(value, tuple):
            # Lists of texts a person reads, such as the staff's quick texts in the live chat.
            out.update({f"{key}[{i}]": v.format(**examples) for i, v in enumerate(value)})
    return out
