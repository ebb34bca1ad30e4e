"""The Dutch spaCy pipeline nl_gids, as built and installed by set-up."""
from __future__ import annotations

import pytest

from bot.nlp import build, gazetteer


def ents(nlp, text):
    return [(e.text, e.label_) for e in nlp(text).ents]


def test_meta_says_which_base_it_was_built_on(nlp):
    assert nlp.meta["gids_base"] in ("nl_core_news_sm", "blank:nl")
    assert {"entity_ruler", "gids_context_entities"} <= set(nlp.pipe_names)


def test_issue_examples(nlp):
    assert ents(nlp, "Ik woon in Hoogezand") == [("Hoogezand", "location")]
    assert ents(nlp, "9711 AB") == [("9711 AB", "postcode")]
    assert ents(nlp, "ik spreek Arabisch") == [("Arabisch", "language")]
    assert [t.lemma_ for t in nlp("schulden")] == ["schuld"]


@pytest.mark.parametrize("text,expected", [
    ("postcode 9711ab", [("9711ab", "postcode")]),
    ("mijn postcode is 3011 EA en ik zoek werk", [("3011 EA", "postcode")]),
    ("3011", [("3011", "postcode")]),
    ("postcode: 5701", [("5701", "postcode")]),
    ("9711 Groningen", [("9711", "postcode"), ("Groningen", "location")]),
])
def test_postcodes(nlp, text, expected):
    assert ents(nlp, text) == expected


@pytest.mark.parametrize("text", [
    "ik heb 2000 euro schuld sinds 2019",
    "ik werk 1200 uur per jaar",
    "we hebben 1500 medewerkers",
    "0123 AB",            # a postcode never starts with 0
    "1234 SS",            # SA, SD and SS are not used
])
def test_numbers_that_are_not_postcodes(nlp, text):
    assert [e for e in nlp(text).ents if e.label_ == "postcode"] == []


@pytest.mark.parametrize("text,place", [
    ("ik woon in den haag", "den haag"),
    ("Den Bosch", "Den Bosch"),
    ("wij zitten in Súdwest-Fryslân", "Súdwest-Fryslân"),
    ("sudwest-fryslan", "sudwest-fryslan"),
    ("ik kom uit ZWOLLE", "ZWOLLE"),
    ("ik woon in leiden", "leiden"),      # also a verb: needs the cue "in"
    ("Beek", "Beek"),                     # capitalised
    ("haren", "haren"),                   # alone in the message
    ("ik woon in 's-Hertogenbosch", "'s-Hertogenbosch"),
    ("ik woon in Een", "Een"),            # a village in Noordenveld, and an article
])
def test_places(nlp, text, place):
    assert (place, "location") in ents(nlp, text)


@pytest.mark.parametrize("text", [
    "ik doe mijn best", "dat is echt lastig", "mijn loon is te laag",
    "de haren op mijn hoofd", "ik wil leiden tot iets beters",
    # Places that are function words (Een, Hem, Anderen) after a cue, or alone, in lower case.
    "ik zoek werk in een fabriek", "ik ben op zoek naar een baan", "ik ga naar hem toe",
    "ik werk liever bij anderen", "een",
])
def test_words_that_are_also_places_stay_words(nlp, text):
    assert [e for e in nlp(text).ents if e.label_ == "location"] == []


@pytest.mark.parametrize("text,lang", [
    ("ik spreek tigrinya", "tigrinya"), ("Mijn taal is Oekraïens", "Oekraïens"),
    ("oekraiens en een beetje engels", "oekraiens"), ("I speak Arabic", "Arabic"),
])
def test_languages(nlp, text, lang):
    assert (lang, "language") in ents(nlp, text)


def test_dutch_itself_is_not_tagged_as_a_spoken_language(nlp):
    assert ents(nlp, "ik wil Nederlands leren") == []


def test_every_gemeente_is_recognised_in_a_sentence(nlp):
    import csv
    from bot import config

    missed = []
    with open(config.ROUTING_DIR / "gemeenten.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = gazetteer.strip_province_suffix(row["gemeentenaam"])
            if (name, "location") not in ents(nlp, f"ik woon in {name}"):
                missed.append(name)
    assert missed == []


def test_build_on_blank_base(tmp_path):
    info = build.build(tmp_path / "nl_test", base="blank")
    assert info["base"] == "blank:nl"
    assert info["places"] > 2500 and info["languages"] > 50
    assert (tmp_path / "nl_test" / "config.cfg").exists()
    import spacy
    nlp = spacy.load(tmp_path / "nl_test")
    assert ("Hoogezand", "location") in [(e.text, e.label_) for e in nlp("Ik woon in Hoogezand").ents]


def test_patterns_split_word_like_names_into_case_sensitive_ones():
    patterns, context = build.entity_patterns(["Zwolle", "Beek", "Den Haag", "Súdwest-Fryslân"], ["Pools", "Lets"])
    phrase = {p["pattern"] for p in patterns if isinstance(p["pattern"], str)}
    token = [p["pattern"] for p in patterns if isinstance(p["pattern"], list)]
    assert {"Zwolle", "Den Haag", "Súdwest-Fryslân", "Sudwest-Fryslan", "Pools"} <= phrase
    assert [{"ORTH": "Beek"}] in token and [{"ORTH": "Lets"}] in token
    assert context == ["beek"]


def test_source_hash_changes_with_the_gazetteer(tmp_path, monkeypatch):
    from bot import config
    before = build.source_hash()
    for f in config.ROUTING_DIR.glob("*.csv"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with open(tmp_path / "place_aliases.csv", "a", encoding="utf-8") as f:
        f.write("Nieuwplaats,GM0014,test,\n")
    monkeypatch.setattr(config, "ROUTING_DIR", tmp_path)
    assert build.source_hash() != before
