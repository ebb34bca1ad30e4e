"""Every response text in domain.yml is B1 Dutch (../STYLE-B1.md). Tool: textstat (lang "nl")
for Dutch syllables, the Flesch–Douma formula in bot/b1.py."""
import pytest
import yaml

from bot import b1, config, messages

RESULTS = b1.check_domain()
# Texts composed by the actions (bot/messages.py) and the service descriptions of the routing
# seed (data/routing/services.yml) reach people too.
OTHER = [b1.check_text(f"messages.{k}", v) for k, v in messages.all_texts().items()]
_services = yaml.safe_load((config.ROUTING_DIR / "services.yml").read_text())["services"]
OTHER += [b1.check_text(f"services.yml:{s['topic']}:{s['partner']}",
                        " ".join(filter(None, [s["description"], s.get("conditions")])))
          for s in _services]
# The cards of the sectoral route (data/routing/sector_cards.yml), also with the condition a
# working person reads on the card of a fund that serves only employers.
from bot.routing.seed import VIA_EMPLOYER, load_sector_cards  # noqa: E402

OTHER += [b1.check_text(f"sector_cards.yml:{c['sector']}:{c['fund']}", f"{c['description']} {VIA_EMPLOYER}")
          for c in load_sector_cards(config.ROUTING_DIR)]
# The WhatsApp channel's own texts (bot/channels/whatsapp.py).
from bot.channels import whatsapp  # noqa: E402

OTHER += [b1.check_text(f"whatsapp.{k}", getattr(whatsapp, k).format(url="https://www.werk.nl"))
          for k in ("TEXT_ONLY", "CHOOSE_BY_NUMBER", "CHOOSE_DEFAULT_BODY", "LIST_BUTTON", "IMAGE_LINK",
                    "ATTACHMENT_LINK")]


@pytest.mark.parametrize("result", RESULTS, ids=[r.name for r in RESULTS])
def test_response_is_b1(result):
    assert result.ok, f"{result.name}: {'; '.join(result.problems)} — {result.text!r}"


@pytest.mark.parametrize("result", OTHER, ids=[r.name for r in OTHER])
def test_action_text_is_b1(result):
    assert result.ok, f"{result.name}: {'; '.join(result.problems)} — {result.text!r}"


def test_partner_card_for_an_example():
    card = {"partner": "Geldfit", "service": "Geldfit helpt je gratis op weg.", "conditions": "",
            "contact": {"phone": "0800-8115", "website": "https://www.geldfit.nl"}}
    assert messages.partner_card(card) == ("Geldfit: Geldfit helpt je gratis op weg.\n"
                                           "Bel: 0800-8115\nWebsite: https://www.geldfit.nl")
    assert messages.join_dutch(["a", "b", "c"]) == "a, b en c"


def test_domain_has_responses():
    assert len(RESULTS) >= 25


def test_checker_rejects_officialese():
    bad = b1.check_text("x", "Teneinde u adequaat te kunnen doorverwijzen naar de betreffende "
                             "instantie, verzoeken wij u vriendelijk uw woonplaats en postcode te vermelden.")
    assert not bad.ok
    assert any("Flesch" in p for p in bad.problems)
    assert any('"u"' in p for p in bad.problems)
    assert any("words" in p for p in bad.problems)


def test_checker_rejects_long_buttons():
    bad = b1.check_text("x", "Kies een onderwerp.", [{"title": "Ik wil graag meer weten over omscholing"}])
    assert not bad.ok


def test_style_guide_example_passes():
    good = b1.check_text("x", "Ik stuur je vraag naar de gemeente Assen. Zij nemen contact met je op.")
    assert good.ok, good.problems
    assert good.flesch_douma > 60


def test_sentences_do_not_split_on_web_addresses_or_numbers():
    assert b1.sentences("Kijk op werk.nl. Bel 0800-0113.") == ["Kijk op werk·nl.", "Bel 0800-0113."]
