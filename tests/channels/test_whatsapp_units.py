"""The WhatsApp channel's pure parts: settings (from the gateway's environment), parsing Meta's
payloads, the button plan, text splitting, Retry-After, masked ids, and that the core has no
WhatsApp channel of its own."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from bot import config
from bot.channels.graph_api import DEFAULT_GRAPH_API_URL, retry_after_seconds
from bot.channels.whatsapp import (BUTTONS, CHOICE, IGNORED, LIST, NUMBERED, PLAIN, TEXT, UNSUPPORTED, WhatsAppChannel,
                                   WhatsAppSettings, custom_to_text, numbered_text, parse_message, parse_webhook,
                                   plan_buttons, split_text)
from bot.gateway.app import GatewaySettings, make_app
from bot.gateway.core import CoreClient
from tests.channels.conftest import (PHONE_NUMBER_ID, new_wa_id, reply_message, settings, status_update, text_message,
                                     webhook)

NOW = datetime(2026, 5, 4, 12, 0, 0)
ENV = {"WHATSAPP_ACCESS_TOKEN": "EAAG-token", "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
       "WHATSAPP_APP_SECRET": "s3cret", "WHATSAPP_VERIFY_TOKEN": "verify-me",
       "WHATSAPP_TEMPLATE_NAME": "gids_verder_praten"}


# --- settings -------------------------------------------------------------------------------------

def test_settings_come_from_the_environment_with_defaults():
    s = WhatsAppSettings.load(None, ENV)
    assert (s.access_token, s.phone_number_id, s.app_secret, s.verify_token) == \
        ("EAAG-token", "106540352242922", "s3cret", "verify-me")
    assert s.graph_api_url == DEFAULT_GRAPH_API_URL == "https://graph.facebook.com/v25.0"
    assert (s.template_name, s.template_language) == ("gids_verder_praten", "nl")
    assert s.missing() == []


def test_credentials_win_over_the_environment_and_numbers_are_parsed():
    s = WhatsAppSettings.load({"graph_api_url": "http://127.0.0.1:9/v25.0", "max_attempts": "3",
                               "template_language": "", "access_token": None}, ENV)
    assert s.graph_api_url == "http://127.0.0.1:9/v25.0"
    assert s.max_attempts == 3
    assert s.template_language == "nl" and s.access_token == "EAAG-token"


def test_missing_settings_are_named_and_secrets_stay_out_of_repr():
    s = WhatsAppSettings.load({}, {"WHATSAPP_APP_SECRET": "s3cret", "WHATSAPP_ACCESS_TOKEN": " tok\n"})
    assert s.missing() == ["WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_VERIFY_TOKEN"]
    assert s.access_token == "tok"  # a stray newline from an env file would break the header
    assert "s3cret" not in repr(s) and "tok" not in repr(s)


async def test_the_gateway_reads_whatsapp_settings_from_its_environment(monkeypatch):
    """make_app without WhatsApp settings: the WHATSAPP_* variables of the gateway's environment."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    gateway = GatewaySettings(core_url="http://127.0.0.1:9", core_token="t", secret="s")
    unset = make_app(gateway)["whatsapp"]
    assert isinstance(unset, WhatsAppChannel)
    assert unset.settings.missing() and not unset.can_send
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    channel = make_app(gateway)["whatsapp"]
    assert channel.settings.missing() == [] and channel.settings.app_secret == "s3cret"
    assert channel.can_send
    assert channel.graph.url == f"{DEFAULT_GRAPH_API_URL}/106540352242922/messages"
    # Settings given to make_app win over the environment.
    given = make_app(gateway, whatsapp=WhatsAppSettings(app_secret="other"))["whatsapp"]
    assert given.settings.app_secret == "other" and given.settings.missing()
    for app_channel in (unset, channel, given):
        await app_channel.close()


def test_the_core_has_no_whatsapp_channel():
    """WhatsApp is the gateway's: the core's only channel is the internal one."""
    channels = yaml.safe_load((config.ROOT / "credentials.yml").read_text())
    assert list(channels) == ["bot.core.channel.GatewayInput"]


def test_credentials_yml_holds_no_secret_values():
    text = (config.ROOT / "credentials.yml").read_text()
    active = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line in active:
        assert not any(word in line.lower() for word in ("token:", "secret:", "sid:")), line


# --- parsing Meta's webhook ------------------------------------------------------------------------

def test_message_kinds():
    wa_id = new_wa_id()
    assert parse_message(text_message(wa_id, "hoi"), NOW).kind == TEXT
    reply = parse_message(reply_message(wa_id, "list_reply", "/ask_debt_help", "Schulden"), NOW)
    assert (reply.kind, reply.text) == (CHOICE, "/ask_debt_help")
    template_button = {"from": wa_id, "id": "wamid.1", "type": "button",
                       "button": {"text": "Ja, verder", "payload": "Ja, verder"}}
    assert (parse_message(template_button, NOW).kind, parse_message(template_button, NOW).text) == (TEXT, "Ja, verder")
    for kind in ("image", "audio", "video", "sticker", "location", "contacts", "document", "unsupported", "order"):
        assert parse_message({"from": wa_id, "id": "wamid.2", "type": kind, kind: {}}, NOW).kind == UNSUPPORTED
    assert parse_message({"from": wa_id, "id": "wamid.3", "type": "reaction", "reaction": {}}, NOW).kind == IGNORED
    # An interactive message that is not a reply the gids can read.
    odd = {"from": wa_id, "id": "wamid.4", "type": "interactive", "interactive": {"type": "nfm_reply"}}
    assert parse_message(odd, NOW).kind == UNSUPPORTED


def test_messages_without_id_or_sender_are_skipped():
    assert parse_message({"id": "wamid.1", "type": "text", "text": {"body": "x"}}, NOW) is None
    assert parse_message({"from": "31612345678", "type": "text"}, NOW) is None
    assert parse_message("nonsense", NOW) is None


def test_message_time_is_the_senders_but_never_in_the_future():
    stamp = int(NOW.replace(tzinfo=timezone.utc).timestamp())
    assert parse_message(text_message("31", "x", timestamp=stamp - 60), NOW).sent_at == NOW - timedelta(seconds=60)
    assert parse_message(text_message("31", "x", timestamp=stamp + 3600), NOW).sent_at == NOW
    garbled = {**text_message("31", "x"), "timestamp": "gisteren"}
    assert parse_message(garbled, NOW).sent_at == NOW


def test_webhook_batches_count_what_they_ignore():
    wa_id = new_wa_id()
    body = webhook(messages=[text_message(wa_id, "a"), {"type": "text"}], statuses=[status_update(wa_id)])
    body["entry"].append({"changes": [{"field": "account_update", "value": {"messages": [text_message(wa_id, "b")]}}]})
    batch = parse_webhook(body, PHONE_NUMBER_ID, NOW)
    assert [m.text for m in batch.messages] == ["a"]
    assert (batch.statuses, batch.skipped) == (1, 1)
    assert parse_webhook({"entry": "garbage"}, PHONE_NUMBER_ID, NOW).messages == []
    assert parse_webhook({"entry": [{"changes": [None, 3]}]}, PHONE_NUMBER_ID, NOW).messages == []


# --- buttons --------------------------------------------------------------------------------------

def b(title, payload):
    return {"title": title, "payload": payload}


@pytest.mark.parametrize("buttons,kind", [
    ([b("Ja", "/affirm")], BUTTONS),
    ([b("Ja", "/a"), b("Nee", "/b"), b("Weet niet", "/c")], BUTTONS),
    ([b("Ja", "/a"), b("Nee", "/b"), b("Weet niet", "/c"), b("Later", "/d")], LIST),
    ([b("x" * 21, "/a")], LIST),
    ([b("x" * 25, "/a")], NUMBERED),
    ([b(f"Keuze {i}", f"/c{i}") for i in range(10)], LIST),
    ([b(f"Keuze {i}", f"/c{i}") for i in range(11)], NUMBERED),
    ([b("Ja", "/" + "a" * 230)], BUTTONS),   # a button id may be longer than a row id
    ([b("Ja", "/" + "a" * 256)], NUMBERED),  # too long for both
    ([b("Ja", "/" + "a" * 200), b("b", "/b"), b("c", "/c"), b("d", "/d")], NUMBERED),
    ([b("Ja", "/same"), b("Ook ja", "/same")], NUMBERED),  # WhatsApp needs unique ids
    ([{"title": "Website", "url": "https://werk.nl"}], PLAIN),
])
def test_the_plan_follows_the_cloud_api_limits(buttons, kind):
    assert plan_buttons("Kies maar.", buttons).kind == kind


def test_the_id_limits_are_exact():
    assert plan_buttons("Kies", [b("Ja", "/" + "a" * 255)]).kind == BUTTONS       # 256 characters
    assert plan_buttons("Kies", [b("Ja", "/" + "a" * 199), b("a", "/b"), b("c", "/d"), b("e", "/f")]).kind == LIST
    assert plan_buttons("Kies", [b("x" * 20, "/a")]).kind == BUTTONS
    assert plan_buttons("Kies", [b("x" * 24, "/a")]).kind == LIST


def test_a_body_too_long_for_interactive_messages_is_numbered_text():
    assert plan_buttons("w " * 600, [b("Ja", "/affirm")]).kind == NUMBERED


def test_numbered_text_and_link_buttons():
    plan = plan_buttons("Waar wil je hulp bij?", [b("Schulden", "/ask_debt_help"), b("Taal", "/ask_language_help"),
                                                  {"title": "Meer", "url": "https://werk.nl"}] +
                        [b(f"Onderwerp nummer {i} lang", f"/t{i}") for i in range(10)])
    assert plan.kind == NUMBERED
    text = numbered_text(plan)
    assert text.startswith("Waar wil je hulp bij?\nMeer: https://werk.nl\n\n1. Schulden\n2. Taal\n3. Onderwerp")
    assert plan.payloads[:2] == ["/ask_debt_help", "/ask_language_help"]
    assert plan_buttons("", [b("Ja", "/affirm")]).body == "Maak een keuze."  # WhatsApp needs a body


def test_split_text():
    assert split_text("kort") == ["kort"]
    assert split_text("a\n\nb", limit=3) == ["a", "b"]
    assert split_text("abcdefg", limit=3) == ["abc", "def", "g"]
    assert split_text("  ") == []


def test_custom_messages_to_text():
    card = {"partner": "UWV", "service": "WW aanvragen.", "contact": {"website": "https://www.uwv.nl"}}
    assert custom_to_text({"type": "partner_card", **card}) == "UWV: WW aanvragen.\nWebsite: https://www.uwv.nl"
    assert custom_to_text({"partner_card": {**card, "contact": None}}) == "UWV: WW aanvragen."
    assert custom_to_text({"text": "Hallo"}) == "Hallo"
    assert custom_to_text({"type": "partner_card"}) is None
    assert custom_to_text({"anything": 1}) is None
    assert custom_to_text(["x"]) is None


# --- Retry-After ----------------------------------------------------------------------------------

def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 5, 4, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Mon, 04 May 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 04 May 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("-3") == 0.0


def test_masked_ids_are_stable_and_do_not_show_the_number():
    channel = WhatsAppChannel(CoreClient("http://127.0.0.1:9", "t"), settings("sqlite://", "http://127.0.0.1:9"))
    wa_id = "31612345678"
    assert channel.mask(wa_id) == channel.mask(wa_id) != channel.mask("31612345679")
    assert "12345678" not in channel.mask(wa_id)
    # Keyed with the app secret: another installation (or a guess without the key) gets other names.
    other = WhatsAppChannel(CoreClient("http://127.0.0.1:9", "t"),
                            settings("sqlite://", "http://127.0.0.1:9", app_secret="another-secret"))
    assert other.mask(wa_id) != channel.mask(wa_id)
