"""A three-minute stand-in for crossval.py, for work on the training data.

    nice .venv/bin/python bench/nlu/quick.py                      # figures + var/nlu-errors.txt
    nice .venv/bin/python bench/nlu/quick.py --errors /tmp/e.txt

crossval.py trains the real Rasa pipeline five times (40 minutes for the comparison). This script
fits the same kind of model with scikit-learn directly on the same five folds: words and
character 2-4 n-grams (present/absent at a fixed length, as config.yml's classifier has them)
and the two sentence embeddings at the scales of config.yml, into a logistic regression. It
leaves out the lemmas and the regex and lookup features, so it reads about 0.01 lower than
crossval.py's final configuration, but it moves the same way when examples are added or
relabelled. Embeddings are cached per text in var/, so a rerun only
encodes new examples. It writes every misclassified example, grouped by true → predicted.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from crossval import ROOT, load_examples, stratified_folds  # noqa: E402  (same data, same folds)


def pipeline() -> list:
    import yaml

    return yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]


def embedding_scales() -> dict:
    return {c["encoder"]: float(c["scale"]) for c in pipeline() if c["name"].endswith("SentenceEmbeddingFeaturizer")}


def count_settings() -> dict:
    """binary/length per count featurizer ("words", "chars"), as the classifier in config.yml has them."""
    clf = next(c for c in pipeline() if c["name"].endswith("LogisticRegressionClassifier"))
    return {alias: (alias in clf.get("binary", []), clf.get("lengths", {}).get(alias))
            for alias in ("words", "chars")}


def cached_embeddings(name: str, texts: list) -> np.ndarray:
    from bot.nlp.embeddings import embed

    path = ROOT / "var" / f"nlu-embeddings-{name}.json"
    cache = json.loads(path.read_text()) if path.exists() else {}
    todo = sorted(set(texts) - set(cache))
    if todo:
        for text, vector in zip(todo, embed(name, todo)):
            cache[text] = vector.round(6).tolist()
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(cache))
    return np.array([cache[t] for t in texts], dtype=np.float32)


def main() -> int:
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
    from sklearn.preprocessing import normalize

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errors", type=Path, default=ROOT / "var" / "nlu-errors.txt")
    args = ap.parse_args()

    examples, _ = load_examples()
    texts = [text for text, _, _ in examples]
    y = np.array([intent for _, intent, _ in examples])
    dense = [cached_embeddings(name, texts) * scale for name, scale in embedding_scales().items()]
    settings = count_settings()
    predicted = np.empty(len(y), dtype=object)
    for test_idx in stratified_folds(examples, 5):
        test_set = set(test_idx)
        train_idx = [i for i in range(len(texts)) if i not in test_set]
        words = CountVectorizer(binary=settings["words"][0])
        chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, binary=settings["chars"][0])

        def matrix(idx, fit):
            part = [texts[i] for i in idx]
            counts = [v.fit_transform(part) if fit else v.transform(part) for v in (words, chars)]
            counts = [normalize(c.astype(float)) * length if length else c
                      for c, (_, length) in zip(counts, (settings["words"], settings["chars"]))]
            return sparse.hstack(counts + [sparse.csr_matrix(d[idx]) for d in dense]).tocsr()

        clf = LogisticRegression(max_iter=3000, class_weight="balanced")
        clf.fit(matrix(train_idx, True), y[train_idx])
        predicted[test_idx] = clf.predict(matrix(test_idx, False))

    labels = sorted(set(y))
    print(f"{len(texts)} examples  accuracy {accuracy_score(y, predicted):.3f}  "
          f"macro-F1 {f1_score(y, predicted, average='macro'):.3f}")
    prec, rec, f1, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    for label, p, r, f, n in sorted(zip(labels, prec, rec, f1, support), key=lambda row: row[3]):
        print(f"  {label:20s} P {p:.2f} R {r:.2f} F1 {f:.3f} n {n}")
    confusions = collections.Counter((a, b) for a, b in zip(y, predicted) if a != b)
    print("confusions:", ", ".join(f"{a} → {b} {n}" for (a, b), n in confusions.most_common(12)))
    args.errors.parent.mkdir(exist_ok=True)
    with args.errors.open("w", encoding="utf-8") as out:
        for text, truth, guess in sorted(zip(texts, y, predicted), key=lambda row: (row[1], row[2])):
            if truth != guess:
                out.write(f"{truth} -> {guess}: {text}\n")
    print(f"misclassified examples: {args.errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
