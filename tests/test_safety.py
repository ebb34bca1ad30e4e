import pytest

from bot.safety import mentions_crisis


@pytest.mark.parametrize("text", [
    "ik wil er niet meer zijn", "Ik wil dood", "ik denk aan zelfmoord", "Zelfmoord",
    "ik wil een eind aan mijn leven maken", "ik ga van een brug springen",
    "ik ben bang dat ik mezelf iets aandoe", "mijn man slaat me", "ik ben in gevaar",
    "door de schulden wil ik niet meer leven", "ik ben SUÏCIDAAL", "I want to kill myself",
    "iemand heeft me met een mes bedreigd", "ik wil mijn leven beëindigen",
    "moet ik 113 bellen",
    "ik krijg de rekeningen niet betaald en zie maar één uitweg, er een eind aan maken",
    "ik snij mezelf weer", "mijn vriend heeft me bij mijn keel gegrepen", "help mijn vader slaat mijn moeder",
])
def test_crisis_is_caught(text):
    assert mentions_crisis(text)


@pytest.mark.parametrize("text", [
    "ik ben doodmoe van mijn werk", "ik heb veel stress door mijn schulden",
    "mijn baan is dodelijk saai", "ik wil niet meer in de bouw werken",
    "mijn postcode is 1131 AB", "ik heb 1130 euro schuld", "", "de deurwaarder bedreigt met beslag",
    "ik wil een eind maken aan mijn contract", "ik zie geen uitweg uit mijn schulden",
    "mijn keel doet pijn", "ik snijd groenten in de keuken", "mijn zoon slaat zijn huiswerk over",
])
def test_ordinary_worries_are_not_a_crisis(text):
    assert not mentions_crisis(text)


@pytest.mark.parametrize("text,classified,expected", [
    ("🙈🙈🙈", "greet", "nlu_fallback"),      # no emoji people answer with
    ("👍🏽", "affirm", "affirm"),             # a skin tone does not hide the thumb
    ("👋", "goodbye", "goodbye"),
    ("👋", "affirm", "nlu_fallback"),        # a wave is no yes
    ("🙏🙏", "thank", "thank"),
    ("😀", "ask_debt_help", "nlu_fallback"),
    ("ik wil dood 🙈", "greet", "crisis"),
])
def test_the_safety_net_decides_on_messages_without_words(text, classified, expected):
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlp.rasa_components import SafetyNet

    message = Message(data={TEXT: text, INTENT: {"name": classified, "confidence": 0.9},
                            INTENT_RANKING_KEY: [{"name": classified, "confidence": 0.9}]})
    SafetyNet().process([message])
    assert message.get(INTENT)["name"] == expected
