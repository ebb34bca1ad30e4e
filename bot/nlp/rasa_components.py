"""Rasa NLU components of the gids (listed by module path in config.yml).

InputGuard sits first: the classifier sees plain text (no HTML, no 5,000-character walls).
SafetyNet sits last: messages about acute danger become ``crisis`` and messages without words
become ``nlu_fallback``, whatever the classifier and the FallbackClassifier said before.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer

from bot.nlp.needs import EMPLOYER_TOPICS, RESIDENT_TOPICS, find_needs, needs_of, triage_order
from bot.safety import mentions_crisis
from bot.text import InputKind, classify_input, clean_for_classifier

if TYPE_CHECKING:
    from scipy import sparse

CRISIS_INTENT = "crisis"
FALLBACK_INTENT = "nlu_fallback"
# A lone 👍 or 🙏 is an answer people give on WhatsApp; other emoji-only messages are not. The
# classifier's intent for an emoji-only message stands only when it fits an emoji in it: a
# classifier that has seen few emoji may call "🙈🙈🙈" a greeting.
ANSWER_EMOJI = {"👍": {"affirm"}, "👌": {"affirm"}, "✅": {"affirm"}, "👎": {"deny"}, "❌": {"deny"},
                "🙏": {"thank"}, "👋": {"greet", "goodbye"}}


def emoji_answer_intents(text: str) -> set:
    return set().union(*(intents for emoji, intents in ANSWER_EMOJI.items() if emoji in text))


class _Stateless(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> GraphComponent:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class InputGuard(_Stateless):
    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text:
                message.set(TEXT, clean_for_classifier(text), add_to_output=False)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples are plain already; cleaning them keeps train and use alike.
        self.process([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """A pretrained sentence embedding as dense sentence features (bot/nlp/embeddings.py).

    Only sentence features: the logistic regression reads nothing else, and a per-token
    embedding would cost a model call per word. ``scale`` weighs the embedding against the
    sparse counts in the same linear model; its value comes from bench/nlu (REPORT.md)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "encoder": "e5", "scale": 1.0}

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.encoder = config["encoder"]
        self.scale = float(config["scale"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> GraphComponent:
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        from rasa.shared.exceptions import InvalidConfigException
        from bot.nlp.embeddings import ENCODERS

        if config.get("encoder") not in ENCODERS:
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: encoder must be one of {', '.join(ENCODERS)}, "
                f"not {config.get('encoder')!r}")

    def process(self, messages: List[Message]) -> List[Message]:
        from bot.nlp.embeddings import embed

        # A blank text gets a zero vector rather than none, so every row the classifier stacks
        # has the same width.
        with_text = [m for m in messages if m.get(TEXT) is not None]
        if not with_text:
            return messages
        vectors = embed(self.encoder, [m.get(TEXT) for m in with_text]) * self.scale
        for message, vector in zip(with_text, vectors):
            self.add_features_to_message(None, vector.reshape(1, -1).astype(np.float32), TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data


def _override(message: Message, intent: str) -> None:
    message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != intent]
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}] + ranking,
                add_to_output=True)


NEED_ENTITY = "need"
# Intents a named need may replace: the fallback (two topics compete, or broken Dutch), a place
# said together with the needs ("ik woon in Tilburg en heb schulden"), a greeting in front of them.
# Answers (ja, nee, dank je) and the rest keep their intent.
NEED_MAY_REPLACE = {FALLBACK_INTENT, "inform_location", "greet", None}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class NeedFinder(_Stateless):
    """Every need the message names (bot/nlp/needs.py), as ``need`` entities in the order to take
    them up; the first becomes the intent when the classifier fell back or heard only a place or
    a greeting. Sits after the FallbackClassifier and before the SafetyNet."""

    def process(self, messages: List[Message]) -> List[Message]:
        topics = set(RESIDENT_TOPICS + EMPLOYER_TOPICS)
        for message in messages:
            text = message.get(TEXT) or ""
            intent = (message.get(INTENT) or {}).get("name")
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != FALLBACK_INTENT]
            classified = ranking[0]["name"] if ranking else None
            named = {n.topic: n for n in find_needs(text)}
            # The classifier's topic counts unless it fell back: then only the words speak.
            needs = needs_of(text, classified if intent in topics else None)
            if not needs:
                continue
            ordered = triage_order(needs)
            entities = list(message.get(ENTITIES) or [])
            for topic in ordered:
                span = named.get(topic)
                entities.append({"entity": NEED_ENTITY, "value": topic, "confidence": 1.0, "extractor": "NeedFinder",
                                 "start": span.start if span else 0, "end": span.end if span else len(text)})
            message.set(ENTITIES, entities, add_to_output=True)
            if intent in NEED_MAY_REPLACE and intent not in topics:
                _override(message, ordered[0])
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyNet(_Stateless):
    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if mentions_crisis(text):
                _override(message, CRISIS_INTENT)
                continue
            kind = classify_input(text)
            intent = (message.get(INTENT) or {}).get("name")
            if kind == InputKind.EMPTY or (
                    kind == InputKind.NO_WORDS and intent not in emoji_answer_intents(text)):
                _override(message, FALLBACK_INTENT)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class GuardedLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Rasa 3.6's LogisticRegressionClassifier, with three changes.

    ``binary`` (featurizer aliases): counts become 0/1, so a word said three times in a long
    e-mail weighs what it weighs once. ``lengths`` (alias → length): the sparse sentence vector
    of each named featurizer is then scaled to that Euclidean length. With raw counts a long
    e-mail outweighs its own sentence embedding and a one-word message weighs almost nothing;
    at a fixed length every message speaks with the same voice per featurizer
    (bench/nlu/HISTORY.md, round 5). Featurizers not named keep their raw counts.

    A message without word features (an empty message: sklearn would get a matrix of the wrong
    width, and Rasa raises) gets no intent; SafetyNet then makes it ``nlu_fallback`` and the gids
    asks the person to type a few words."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "binary": [], "lengths": {}}

    def _create_X(self, messages: List[Message]) -> sparse.csr_matrix:
        from scipy import sparse

        lengths = self.config.get("lengths") or {}
        binary = set(self.config.get("binary") or [])
        rows = []
        for message in messages:
            # Message.features keeps pipeline order, the order Rasa's own _create_X stacks in.
            blocks = []
            for feature in message.features:
                if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
                    continue
                block = sparse.csr_matrix(feature.features, dtype=np.float64)
                if feature.is_sparse() and feature.origin in binary:
                    block.data = (block.data != 0).astype(np.float64)
                length = lengths.get(feature.origin) if feature.is_sparse() else None
                if length:
                    norm = sparse.linalg.norm(block)
                    if norm > 0:
                        block = block * (float(length) / norm)
                blocks.append((not feature.is_sparse(), block))
            # Sparse blocks first, then dense, as in Rasa's own matrix.
            rows.append(sparse.hstack([b for _, b in sorted(blocks, key=lambda kb: kb[0])]))
        return sparse.vstack(rows).tocsr()

    def process(self, messages: List[Message]) -> List[Message]:
        # The sparse counts decide: an empty message still gets the (zero) sentence embedding,
        # and a row of only those columns would not fit the trained model.
        def has_features(m: Message) -> bool:
            return m.get_sparse_features(attribute=TEXT)[1] is not None

        featured = [m for m in messages if has_features(m)]
        if featured:
            super().process(featured)
        for m in messages:
            if not has_features(m):
                m.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                m.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
