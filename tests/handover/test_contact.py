"""What people answer to the handover questions: names, the way to reach them, numbers, addresses."""
import pytest

from bot.handover.contact import (EMAIL, PHONE, WHATSAPP, clean_name, contact_from_text, display_phone,
                                  normalise_email, normalise_phone, parse_contact_method,
                                  whatsapp_id_to_e164)


@pytest.mark.parametrize("text,method", [
    ("Bel me", PHONE), ("bellen graag", PHONE), ("telefonisch", PHONE), ("Mail me", EMAIL),
    ("per e-mail", EMAIL), ("email", EMAIL), ("via WhatsApp", WHATSAPP), ("app me maar", WHATSAPP),
    ("watsapp", WHATSAPP), ("ok", None), ("", None), ("weet ik niet", None),
])
def test_contact_method_in_plain_words(text, method):
    assert parse_contact_method(text) == method


def test_every_contact_button_title_is_understood():
    from bot import messages
    assert {m: parse_contact_method(t) for m, t in messages.METHOD_BUTTONS.items()} == {
        m: m for m in messages.METHOD_BUTTONS}


@pytest.mark.parametrize("text,e164", [
    ("0612345678", "+31612345678"), ("06-12 34 56 78", "+31612345678"), ("+31 6 1234 5678", "+31612345678"),
    ("0031612345678", "+31612345678"), ("mijn nummer is 06 12345678", "+31612345678"),
    ("020-1234567", "+31201234567"), ("+32 470 12 34 56", "+32470123456"),
    ("06123", None), ("1234", None), ("abc", None), ("", None),
    ("bel 0612345678 of 0687654321", None),  # two numbers: ask which one
])
def test_phone_numbers_are_validated_and_normalised(text, e164):
    assert normalise_phone(text) == e164


def test_whatsapp_needs_a_mobile_number():
    assert normalise_phone("020-1234567", mobile_only=True) is None
    assert normalise_phone("0612345678", mobile_only=True) == "+31612345678"


@pytest.mark.parametrize("text,email", [
    ("jan@example.nl", "jan@example.nl"), ("mail: Jan.Jansen@Example.NL.", "Jan.Jansen@example.nl"),
    ("jan@", None), ("jan@localhost", None), ("geen idee", None), ("a@b@c.nl", None),
    ("jan@example.nl of piet@example.nl", None),
])
def test_email_addresses_are_checked(text, email):
    assert normalise_email(text) == email


@pytest.mark.parametrize("text,name", [
    ("Sara", "Sara"), ("ik heet fatima el amrani", "Fatima el Amrani"), ("Mijn naam is O'Brien", "O'Brien"),
    ("jan de vries", "Jan de Vries"), ("Hoi, ik ben Łukasz", "Łukasz"), ("Zoë", "Zoë"),
    ("x", None), ("06123", None), ("<b>Jan</b>", None), ("<script>alert(1)</script>", None),
    ("jan@example.nl", None), ("https://evil.example", None), ("🙈", None), ("", None),
    ("ik wil geen naam geven want dat vind ik eng en ik weet het niet", None),
])
def test_names(text, name):
    assert clean_name(text) == name


def test_a_number_or_address_answers_the_method_question_too():
    assert contact_from_text("0612345678") == (PHONE, "+31612345678")
    assert contact_from_text("jan@example.nl") == (EMAIL, "jan@example.nl")
    assert contact_from_text("bellen") == (None, None)


def test_whatsapp_ids_and_display():
    assert whatsapp_id_to_e164("31612345678") == "+31612345678"
    assert whatsapp_id_to_e164("") is None
    assert display_phone("+31612345678") == "06 12345678"
    assert display_phone("+32470123456").startswith("+32 ")
