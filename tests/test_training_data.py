"""The NLU training data: every intent from DESIGN.md, enough examples, no duplicates."""
import re
from collections import Counter

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot import config

TOPICS = ["ask_retraining", "ask_debt_help", "ask_language_help", "ask_vacancies", "ask_benefits",
          "ask_career_advice", "ask_dismissal_help", "ask_apprenticeship", "employer_hiring",
          "employer_training"]
CONVERSATION = ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human",
                "inform_location", "out_of_scope"]

DATA = load_data(str(config.NLU_DIR))
COUNTS = Counter(m.get("intent") for m in DATA.intent_examples)
DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())


@pytest.mark.parametrize("intent", TOPICS)
def test_topic_has_at_least_40_examples(intent):
    assert COUNTS[intent] >= 40


@pytest.mark.parametrize("intent", CONVERSATION + ["crisis", "ask_privacy", "retry_handover"])
def test_conversation_intent_has_at_least_12_examples(intent):
    assert COUNTS[intent] >= 12


def test_domain_lists_exactly_the_trained_intents():
    assert set(DOMAIN["intents"]) == set(COUNTS)
    assert set(TOPICS + CONVERSATION) <= set(DOMAIN["intents"])



def test_the_held_out_set_covers_every_intent_and_is_never_trained_on():
    """bench/nlu/heldout.yml measures generalisation (bench/nlu/heldout.py): it must name only
    intents the domain has, all of them, and lie outside data/nlu so training never reads it."""
    heldout = config.ROOT / "bench" / "nlu" / "heldout.yml"
    assert config.NLU_DIR not in heldout.parents
    held = Counter(m.get("intent") for m in load_data(str(heldout)).intent_examples)
    assert set(held) == set(DOMAIN["intents"])
    assert min(held[t] for t in TOPICS) >= 20


def test_the_newcomers_held_out_set_stays_apart_from_the_training_data():
    """bench/nlu/newcomers_heldout.yml (broken Dutch, simple English) measures data/nlu/newcomers.yml
    only while no training example is a near copy of one of its messages."""
    from rapidfuzz import fuzz, process

    heldout = config.ROOT / "bench" / "nlu" / "newcomers_heldout.yml"
    assert config.NLU_DIR not in heldout.parents
    held = load_data(str(heldout)).intent_examples
    assert len(held) >= 100 and {m.get("intent") for m in held} <= set(DOMAIN["intents"])
    newcomers = [m.get("text").lower() for m in load_data(str(config.NLU_DIR / "newcomers.yml")).intent_examples]
    close = [(m.get("text"), hit[0]) for m in held
             if (hit := process.extractOne(m.get("text").lower(), newcomers, scorer=fuzz.ratio, score_cutoff=90))]
    assert close == []


def test_no_duplicate_examples():
    def norm(t):
        return re.sub(r"[^\w]+", " ", t.lower()).strip() or t
    seen = Counter(norm(m.get("text")) for m in DATA.intent_examples)
    assert [t for t, n in seen.items() if n > 1] == []


def test_entities_are_the_three_known_ones_and_match_their_text():
    for m in DATA.intent_examples:
        for e in m.get("entities") or []:
            assert e["entity"] in {"location", "postcode", "language"}
            assert m.get("text")[e["start"]:e["end"]].strip() != ""


def test_every_inform_location_example_has_a_place_or_postcode():
    for m in DATA.intent_examples:
        if m.get("intent") == "inform_location":
            assert m.get("entities"), m.get("text")


def test_language_lookup_table_is_present():
    tables = {t["name"]: t["elements"] for t in DATA.lookup_tables}
    assert "Arabisch" in tables["language"] and "Tigrinya" in tables["language"]


def test_location_lookup_table_is_in_sync_with_the_routing_data():
    from bot.nlp import lookups
    assert lookups.LOOKUP_FILE.read_text(encoding="utf-8") == lookups.render(), \
        "run: .venv/bin/gids nlp lookups"


def test_place_words_are_in_sync_with_the_routing_data():
    from bot.nlp import lookups
    assert lookups.PLACE_WORDS_FILE.read_text(encoding="utf-8") == lookups.render_place_words(), \
        "run: .venv/bin/gids nlp lookups"
    assert {"best", "beek", "leiden"} <= set(lookups.render_place_words().splitlines())
