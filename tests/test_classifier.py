"""The intent classifier: the gids's logistic regression (GuardedLogisticRegressionClassifier) and the
small-talk lexicons (regex features) it reads."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.rasa_components import GuardedLogisticRegressionClassifier


def classifier(tmp_path, **config) -> GuardedLogisticRegressionClassifier:
    return GuardedLogisticRegressionClassifier(
        {**GuardedLogisticRegressionClassifier.get_default_config(), **config}, "clf",
        LocalModelStorage(tmp_path), Resource("clf"))


def message(words, chars, dense, intent=None) -> Message:
    m = Message(data={TEXT: "x", **({INTENT: intent} if intent else {})})
    m.add_features(Features(scipy.sparse.coo_matrix([words]), "sentence", TEXT, "words"))
    m.add_features(Features(scipy.sparse.coo_matrix([chars]), "sentence", TEXT, "chars"))
    m.add_features(Features(np.array([dense], dtype=np.float32), "sentence", TEXT, "e5"))
    return m


def test_named_featurizers_are_scaled_to_their_length_and_others_stay_raw(tmp_path):
    clf = classifier(tmp_path, lengths={"words": 2})
    X = clf._create_X([message([3, 4, 0], [5, 0], [0.5, 0.5]),
                       message([30, 40, 0], [1, 1], [0.1, 0.2])]).toarray()
    # A message ten times as long gets the same word vector: only the direction counts.
    assert np.allclose(X[:, :3], [[1.2, 1.6, 0], [1.2, 1.6, 0]])
    assert np.allclose(X[:, 3:5], [[5, 0], [1, 1]])  # chars: not named, raw counts
    assert np.allclose(X[:, 5:], [[0.5, 0.5], [0.1, 0.2]])  # dense features are never rescaled


def test_binary_counts_presence_before_the_length_is_applied(tmp_path):
    clf = classifier(tmp_path, binary=["words"], lengths={"words": 1})
    X = clf._create_X([message([3, 1, 0], [5, 0], [0, 0])]).toarray()
    assert np.allclose(X[0, :3], [2 ** -0.5, 2 ** -0.5, 0])
    assert np.allclose(X[0, 3:5], [5, 0])


def test_without_lengths_the_matrix_is_rasas_own(tmp_path):
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    messages = [message([3, 4, 0], [5, 0], [0.5, 0.5]), message([0, 0, 0], [0, 0], [0, 0])]
    ours = classifier(tmp_path)._create_X(messages).toarray()
    theirs = LogisticRegressionClassifier._create_X(classifier(tmp_path), messages).toarray()
    assert np.array_equal(ours, theirs)


def test_a_message_without_words_gets_no_intent_instead_of_a_crash(tmp_path):
    clf = classifier(tmp_path, lengths={"words": 1, "chars": 1})
    clf.train(TrainingData(training_examples=[
        message([4, 0, 0], [1, 0], [1, 0], "ask_debt_help"),
        message([0, 0, 3], [0, 1], [0, 1], "greet"),
    ]))
    empty = Message(data={TEXT: ""})
    empty.add_features(Features(np.zeros((1, 2), dtype=np.float32), "sentence", TEXT, "e5"))
    debt = message([2, 0, 0], [1, 0], [1, 0])
    clf.process([empty, debt])
    assert empty.get(INTENT) == {"name": None, "confidence": 0.0}
    assert debt.get(INTENT)["name"] == "ask_debt_help"


def test_config_names_only_featurizers_that_exist():
    import yaml

    from bot import config

    pipeline = yaml.safe_load((config.ROOT / "config.yml").read_text())["pipeline"]
    clf = next(c for c in pipeline if c["name"].endswith("LogisticRegressionClassifier"))
    aliases = {c.get("alias") for c in pipeline if c["name"] == "CountVectorsFeaturizer"}
    # An alias no featurizer has would silently do nothing.
    assert clf["lengths"] and set(clf["lengths"]) <= aliases
    assert set(clf["binary"]) <= aliases


def keyword_patterns(name: str) -> list:
    """The regex features of one name, as Rasa loads them from data/nlu/keywords.yml, compiled as
    RegexFeaturizer does with case_sensitive: false."""
    import re

    from rasa.shared.nlu.training_data.loading import load_data

    from bot import config

    rows = load_data(str(config.NLU_DIR / "keywords.yml")).regex_features
    patterns = [re.compile(row["pattern"], re.IGNORECASE) for row in rows if row["name"] == name]
    assert patterns, name
    return patterns


@pytest.mark.parametrize("name,text", [
    ("kw_greeting", "Goeiemorgen"), ("kw_greeting", "marhaba"), ("kw_greeting", "dzień dobry"),
    ("kw_greeting", "hoiii"), ("kw_bye", "welterusten"), ("kw_bye", "ma'a salama"),
    ("kw_bye", "Met vriendelijke groet,"), ("kw_bye", "mvg"), ("kw_thanks", "spasibo"),
    ("kw_thanks", "çok teşekkürler"), ("kw_yes", "afgesproken"), ("kw_retry", "probeer het nogmaals"),
])
def test_small_talk_lexicons_match_their_words(name, text):
    assert any(p.search(text) for p in keyword_patterns(name))


@pytest.mark.parametrize("name,text", [
    # A letter's sign-off is a closing only when nothing else is said.
    ("kw_bye", "Beste, ik zoek een leerbedrijf voor mijn zoon. Met vriendelijke groet, Anja"),
    ("kw_greeting", "ik wil een cursus, hallo?"),
    ("kw_yes", "mooi werk zoek ik"),
    ("kw_thanks", "type werk maakt niet uit"),
])
def test_small_talk_lexicons_leave_other_messages_alone(name, text):
    assert not any(p.search(text) for p in keyword_patterns(name))
