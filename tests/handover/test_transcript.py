"""The transcript staff read: this session's messages, redacted, buttons shown by their titles."""
from bot.handover.transcript import GIDS, PERSON, build_summary, build_transcript


def user(text, ts=1_780_000_000.0):
    return {"event": "user", "text": text, "timestamp": ts}


def bot(text, buttons=None, custom=None, ts=1_780_000_001.0):
    data = {"buttons": buttons} if buttons else {}
    if custom:
        data["custom"] = custom
    return {"event": "bot", "text": text, "data": data, "timestamp": ts}


EVENTS = [
    user("een oud gesprek van vorige week"),
    {"event": "session_started"},
    bot("Hoi! Ik ben de digitale gids."),
    user("ik heb schulden, mijn bsn is 111222333 en bel me op 0612345678"),
    {"event": "action", "name": "action_listen"},
    bot("Wil je dat de gemeente contact met je opneemt?",
        buttons=[{"title": "Ja, graag", "payload": "/affirm"}, {"title": "Nee, dank je", "payload": "/deny"}]),
    user("/affirm"),
    bot(None, custom={"partner": "Gemeente Zwolle", "service": "Schuldhulp"}),
    user("mijn iban is NL91ABNA0417164300, mail jan@example.nl"),
    user("   "),
]


def test_only_this_session_redacted_with_consented_contact_kept():
    lines = build_transcript(EVENTS, keep=["+31612345678"])
    assert [line.speaker for line in lines] == [GIDS, PERSON, GIDS, PERSON, GIDS, PERSON, PERSON]
    text = "\n".join(line.text for line in lines)
    assert "oud gesprek" not in text
    assert "111222333" not in text and "NL91ABNA0417164300" not in text and "jan@example.nl" not in text
    assert "0612345678" in text  # the number the person chose to be called on
    assert lines[3].text == "Ja, graag"
    assert "[knoppen: Ja, graag | Nee, dank je]" in lines[2].text
    assert lines[4].text.startswith("Gemeente Zwolle: Schuldhulp")
    assert lines[6].text == "(leeg bericht)"
    assert lines[1].sent_at is not None and lines[1].sent_at.tzinfo is None


def test_without_consent_the_number_is_redacted_too():
    text = "\n".join(line.text for line in build_transcript(EVENTS))
    assert "0612345678" not in text


def test_unknown_button_payload_and_huge_message():
    lines = build_transcript([user('/inform_location{"gemeente_code": "GM0193"}'), user("a" * 9000)])
    assert lines[0].text == "(knop gekozen)"
    assert len(lines[1].text) == 2000


def test_summary_for_staff():
    summary = build_summary(topics=["ask_debt_help", "ask_language_help"], gemeente_name="Zwolle",
                            region_name="IJsselland", place="Zwolle", reason="routing",
                            contact_method="phone", channel="whatsapp", partner_name="Gemeente Zwolle")
    assert "schulden, Nederlands leren" in summary and "Zwolle (regio IJsselland)" in summary
    assert "bellen" in summary and "WhatsApp" in summary
    human = build_summary(topics=[], gemeente_name=None, region_name=None, place=None,
                          reason="request_human", contact_method="email", channel="socketio",
                          partner_name="Werkcentrum.nl")
    assert human.startswith("De persoon wil graag een medewerker spreken.")
    assert "Woonplaats niet genoemd." in human and "webchat" in human


def test_a_partner_cards_own_phone_number_stays():
    card = {"partner": "Gemeente Zwolle", "service": "Schuldhulp", "contact": {"phone": "038-4982999"}}
    lines = build_transcript([bot("Gemeente Zwolle: Schuldhulp\nBel: 038-4982999", custom=card),
                              user("bel mij op 038-4982999 of 0612345678")])
    assert "038-4982999" in lines[0].text
    assert "038-4982999" not in lines[1].text and "0612345678" not in lines[1].text
