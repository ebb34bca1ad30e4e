"""Several needs in one message (bot/nlp/needs.py): the patterns alone, without a model. The
trained model with the NeedFinder component is tested in test_assistant.py; the figures on the
held-out sets are in bench/nlu/MULTINEED.md."""
from __future__ import annotations

import re

import pytest
import yaml

from bot import config
from bot.nlp.needs import EMPLOYER_TOPICS, RESIDENT_TOPICS, correct_typos, find_needs, needs_of, triage_order
from bot.routing import order_needs


def named(text: str) -> list:
    return triage_order(n.topic for n in find_needs(text))


@pytest.mark.parametrize("text,needs", [
    # The messages of the issue that lost a need or ended in the fallback.
    ("ik heb schulden en zoek een baan", ["ask_debt_help", "ask_vacancies"]),
    ("Ik heb veel schulden en ik wil ook graag een opleiding volgen tot vrachtwagenchauffeur",
     ["ask_debt_help", "ask_retraining"]),
    ("mijn werk is te zwaar en ik heb ook nog schulden", ["ask_debt_help", "ask_career_advice"]),
    ("ik statushouder, wil werk maar mijn nederlands niet goed", ["ask_language_help", "ask_vacancies"]),
    # Three at once, in broken Dutch.
    ("mij schulden. nederlands niet goed. zoek werk", ["ask_debt_help", "ask_language_help", "ask_vacancies"]),
    ("I have debts and I am looking for a job", ["ask_debt_help", "ask_vacancies"]),
    ("ik moet een vso tekenen en heb een huurachterstand", ["ask_debt_help", "ask_dismissal_help"]),
    ("mijn uitkering is gestopt en ik wil een cursus heftruck rijden", ["ask_benefits", "ask_retraining"]),
])
def test_every_need_is_found_most_urgent_first(text, needs):
    assert named(text) == needs


@pytest.mark.parametrize("text,needs", [
    ("ik heb geen schulden, ik zoek alleen werk", ["ask_vacancies"]),           # negation
    ("mijn schuldhulpverlening is klaar, nu wil ik een opleiding", ["ask_retraining"]),  # over
    ("ik heb mijn schulden afbetaald en zoek nu een baan", ["ask_vacancies"]),
    ("ik wil een taalcursus", ["ask_language_help"]),                          # not also a course
    ("ik zoek een bbl opleiding in de zorg", ["ask_apprenticeship"]),            # not also retraining
    ("geen geld voor een opleiding, is er subsidie", ["ask_retraining"]),       # no debts
    ("ik zoek een baantje naast mijn studie", ["ask_vacancies"]),               # the study they have
    ("moet ik solliciteren als ik in de bijstand zit", ["ask_benefits"]),        # a rule of the uitkering
])
def test_words_that_do_not_make_a_second_need(text, needs):
    assert named(text) == needs


def test_typos_in_the_key_words_are_read():
    assert correct_typos("ik heb schulde en een huurachterstant") == "ik heb schulden en een huurachterstand"
    assert named("ik wil een opleidng en heb schulde") == ["ask_debt_help", "ask_retraining"]
    # Ordinary words near a key word stay as they are.
    assert correct_typos("ik voel me schuldig") == "ik voel me schuldig"


def test_an_employer_gets_employer_needs_only():
    text = "wij zoeken personeel en willen onze mensen bijscholen"
    assert named(text) == ["employer_hiring", "employer_training"]
    # The classifier decides the side when it has a topic: its employer intent keeps a resident
    # word ("vacature") on the employer's side ...
    assert needs_of("kan ik bij jullie een vacature plaatsen", "employer_hiring") == ["employer_hiring"]
    # ... and its resident intent keeps a resident who says "erkend leerbedrijf" a resident.
    assert needs_of("ik zoek een erkend leerbedrijf voor mijn bbl", "ask_apprenticeship") == ["ask_apprenticeship"]


def test_the_classifiers_topic_joins_the_named_needs():
    assert needs_of("hoe vraag ik dat aan", "ask_benefits") == ["ask_benefits"]
    assert set(needs_of("ik heb schulden en zoek een baan", "ask_vacancies")) == {"ask_debt_help", "ask_vacancies"}
    assert needs_of("hoi", "greet") == []


def test_routing_takes_the_needs_in_the_same_order():
    everything = list(RESIDENT_TOPICS + EMPLOYER_TOPICS)
    assert order_needs(reversed(everything)) == triage_order(everything)
    assert triage_order(["ask_vacancies", "ask_language_help", "ask_debt_help"])[:2] == [
        "ask_debt_help", "ask_language_help"]


def _training_examples():
    for path in sorted((config.ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if block.get("intent") in RESIDENT_TOPICS + EMPLOYER_TOPICS:
                for line in block["examples"].splitlines():
                    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip()[2:].strip())
                    if text:
                        yield text, block["intent"]


def test_single_need_training_examples_rarely_get_a_second_need():
    """Every training example names one topic. A second need found there is mostly a false one
    (some examples do mention a second matter in passing), so the share must stay small."""
    examples = list(_training_examples())
    assert len(examples) > 2000
    extra = [(t, i) for t, i in examples if set(needs_of(t, i)) - {i}]
    assert len(extra) / len(examples) < 0.06, extra[:20]
    # And the classifier's own topic is always among the needs.
    assert all(i in needs_of(t, i) for t, i in examples)
