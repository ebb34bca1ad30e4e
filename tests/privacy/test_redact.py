"""bot.privacy.redact / find_pii / redact_event: each kind, the numbers that must stay, keep."""
from __future__ import annotations

import pytest

from bot.privacy import CONSENTED_SLOTS, Match, find_pii, redact, redact_event


@pytest.mark.parametrize("text, expected", [
    # BSN: 9 digits with a valid elfproef, in the ways people write them
    ("mijn bsn is 123456782", "mijn bsn is [BSN]"),
    ("BSN: 123.456.782.", "BSN: [BSN]."),
    ("burgerservicenummer 123 456 782, klopt dat?", "burgerservicenummer [BSN], klopt dat?"),
    ("123-456-782 is mijn nummer", "[BSN] is mijn nummer"),
    ("sofinummer 1234.56.782", "sofinummer [BSN]"),
    ("mijn bsn is 10000008", "mijn bsn is [BSN]"),             # leading 0 dropped, after "bsn"
    # IBAN: any country, spaces or not, any case
    ("IBAN NL91ABNA0417164300 graag", "IBAN [IBAN] graag"),
    ("rekening nl91 abna 0417 1643 00 is van mij", "rekening [IBAN] is van mij"),
    ("Duitse rekening DE89 3704 0044 0532 0130 00.", "Duitse rekening [IBAN]."),
    ("GB29NWBK60161331926819 uit Londen", "[IBAN] uit Londen"),
    # phone numbers
    ("bel me op 06-12345678", "bel me op [telefoonnummer]"),
    ("mijn nummer: +31 6 1234 5678.", "mijn nummer: [telefoonnummer]."),
    ("0031 6 12345678 graag", "[telefoonnummer] graag"),
    ("thuis 020-1234567 of (020) 123 4567", "thuis [telefoonnummer] of [telefoonnummer]"),
    ("mijn broer in België: +32 470 12 34 56", "mijn broer in België: [telefoonnummer]"),
    ("06 12 34 56 78", "[telefoonnummer]"),
    ("whatsapp 31612345678", "whatsapp [telefoonnummer]"),
    # e-mail
    ("mail me: jan.jansen+werk@example.co.uk.", "mail me: [e-mailadres]."),
    ("Mijn mail is Fatima.ElAmrani@gmail.com", "Mijn mail is [e-mailadres]"),
    # street addresses
    ("mijn adres is Beukenhorst 7 in Assen", "mijn adres is [adres] in Assen"),
    ("Dorpsstraat 12, 1234 AB Assen", "[adres] Assen"),
    ("ik woon op de Kerkweg 3a", "ik woon op de [adres]"),
    ("Laan van Meerdervoort 100, Den Haag", "[adres], Den Haag"),
    ("Burgemeester de Withstraat 3-II", "[adres]"),
    ("Lange Voorhout 9", "[adres]"),
    ("postcode 1234 AB 12", "postcode [adres]"),
    ("1234AB, nr 5", "[adres]"),
    ("ik woon op dorpsstraat 12 in groningen", "ik woon op [adres] in groningen"),
    ("ik woon aan de Hoofdweg 120 B", "ik woon aan de [adres]"),
])
def test_each_kind_is_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "ik verdien 2000 euro",
    "ik woon in 9711 AB",
    "ik woon in 9711AB Groningen",
    "mijn postcode is 1234 AB",
    "in 2024 ben ik ontslagen",
    "bel 113 of 112",
    "bel 0800-0113, dag en nacht",         # 113 Zelfmoordpreventie: the gids says it itself
    "UWV: 088-898 9000",                    # corporate number
    "de gemeente: 14 020",
    "0900-8844 voor de politie",
    "ordernummer 123456789",                # fails the elfproef
    "ik heb een bijbaan 12 uur per week",
    "ik werk al 12 jaar op de arbeidsmarkt",
    "Rotterdam 3013 AB",
    "ik verdien 1500 en 12 euro toeslag",
    "op 12-05-2024 om 10.30 uur",
    "ik ben 45 en heb 3 kinderen",
    "Ik ben onderweg, nog 20 minuten",
    "ik woon in Assen",
    "Ik zoek een baan van 32 uur in Zwolle",
    "",
])
def test_what_is_no_personal_data_stays(text):
    assert redact(text) == text
    assert find_pii(text) == []


def test_find_pii_tells_kind_place_and_value():
    text = "bsn 123456782, mail a@b.nl, bel 06-12345678"
    assert find_pii(text) == [
        Match("bsn", 4, 13, "123456782"),
        Match("email", 20, 26, "a@b.nl"),
        Match("phone", 32, 43, "06-12345678"),
    ]


def test_a_phone_number_is_not_mistaken_for_a_bsn():
    # After the country code these hold 612345671, which passes the elfproef: still one phone.
    from stdnum.nl import bsn
    assert bsn.is_valid("612345671")
    for number in ("+31 6 1234 5671", "0031 6 12345671", "+31612345671"):
        assert [m.kind for m in find_pii(f"bel {number}")] == ["phone"]


def test_overlapping_finds_become_one_placeholder():
    # The e-mail address contains a phone number: one placeholder, nothing of it left.
    assert redact("jan0612345678@example.nl") == "[e-mailadres]"


@pytest.mark.parametrize("keep, text, expected", [
    (["+31 6 1234 5678"], "bel 06-12345678 of 0611111111", "bel 06-12345678 of [telefoonnummer]"),
    (["0612345678"], "of +31612345678", "of +31612345678"),
    (["31612345678"], "whatsapp 06 12 34 56 78", "whatsapp 06 12 34 56 78"),  # a WhatsApp id
    (["jan@example.nl"], "mail JAN@Example.nl of piet@example.nl", "mail JAN@Example.nl of [e-mailadres]"),
    (["jan@example.nl"], "bel 06-12345678", "bel [telefoonnummer]"),
    ([None, ""], "bel 06-12345678", "bel [telefoonnummer]"),
])
def test_keep_leaves_consented_values_in_any_notation(keep, text, expected):
    assert redact(text, keep=keep) == expected


def test_redact_refuses_what_is_not_text():
    with pytest.raises(TypeError):
        redact(None)


def test_redact_event_user_message():
    event = {
        "event": "user", "timestamp": 1700000000.5, "text": "bel 06-12345678, bsn 123456782",
        "parse_data": {"text": "bel 06-12345678, bsn 123456782",
                       "intent": {"name": "request_human", "confidence": 0.9},
                       "entities": [{"entity": "phone", "value": "06-12345678", "start": 4, "end": 15,
                                     "extractor": "RegexEntityExtractor"}],
                       "intent_ranking": [{"name": "request_human", "confidence": 0.9}]},
        "input_channel": "rest", "message_id": "abc123", "metadata": {"from": "+31612345678"},
    }
    out = redact_event(event)
    assert out["text"] == "bel [telefoonnummer], bsn [BSN]"
    assert out["parse_data"]["text"] == out["text"]
    assert out["parse_data"]["entities"][0]["value"] == "[telefoonnummer]"
    assert out["parse_data"]["entities"][0]["entity"] == "phone"
    assert out["parse_data"]["intent"] == event["parse_data"]["intent"]
    assert out["metadata"] == {"from": "[telefoonnummer]"}
    assert (out["timestamp"], out["message_id"], out["input_channel"]) == (1700000000.5, "abc123", "rest")
    assert event["text"] == "bel 06-12345678, bsn 123456782"  # the original is not changed


def test_redact_event_bot_message_and_keep():
    event = {"event": "bot", "text": "Ik bel je op 06-12345678. Je andere nummer 0611111111 bewaar ik niet.",
             "data": {"buttons": [{"title": "Klopt", "payload": "/affirm"}]}, "metadata": {}}
    out = redact_event(event, keep=["+31612345678"])
    assert out["text"] == "Ik bel je op 06-12345678. Je andere nummer [telefoonnummer] bewaar ik niet."
    assert out["data"] == event["data"]


@pytest.mark.parametrize("name", CONSENTED_SLOTS)
def test_redact_event_leaves_consented_slots(name):
    event = {"event": "slot", "name": name, "value": "06-12345678", "timestamp": 1.0}
    assert redact_event(event) == event


def test_redact_event_redacts_other_slots():
    event = {"event": "slot", "name": "place", "value": "Dorpsstraat 12, Assen", "timestamp": 1.0}
    assert redact_event(event)["value"] == "[adres], Assen"
    listed = {"event": "slot", "name": "needs", "value": ["ask_debt_help", "bel 06-12345678"]}
    assert redact_event(listed)["value"] == ["ask_debt_help", "bel [telefoonnummer]"]
    assert redact_event({"event": "slot", "name": "audience", "value": None})["value"] is None
