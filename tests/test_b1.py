"""Every response text in domain.yml is B1 Dutch (../STYLE-B1.md). Tool: textstat (lang "nl")
for Dutch syllables, the Flesch–Douma formula in bot/b1.py."""
import pytest

from bot import b1

RESULTS = b1.check_domain()


@pytest.mark.parametrize("result", RESULTS, ids=[r.name for r in RESULTS])
def test_response_is_b1(result):
    assert result.ok, f"{result.name}: {'; '.join(result.problems)} — {result.text!r}"


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
