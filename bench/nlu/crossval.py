"""5-fold cross-validation of the NLU pipeline against its alternatives.

    nice -n 19 .venv/bin/python bench/nlu/crossval.py     # final + 2 alternatives, writes REPORT.md
    nice -n 19 .venv/bin/python bench/nlu/crossval.py --configs final no_lookup --out /tmp/exp
    nice -n 19 .venv/bin/python bench/nlu/crossval.py --configs final char_2_5 --only-folds 2

The default set is the comparison REPORT.md keeps; the other named configurations are
single-point experiments (one change to config.yml each), recorded in HISTORY.md.

Each configuration is trained on 4/5 of data/nlu and tested on the held-out fifth (stratified by
intent, same folds for every configuration). The classifier's own intent is scored (the first
entry of the ranking that is not nlu_fallback), so the FallbackClassifier threshold can be chosen
from the confidences afterwards. Figures go to bench/nlu/REPORT.md and results.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent

# The alternatives are derived from config.yml each run, so they differ from it in one point only.
CONFIGS = {
    "final": "config.yml as it is",
    "no_embeddings": "without the two sentence-embedding featurizers (words, n-grams and regex features only)",
    "e5_only": "only the multilingual-e5-small embedding, without the Universal Sentence Encoder",
    "use_only": "only the Universal Sentence Encoder embedding, without multilingual-e5-small",
    "e5_scale_8": "the e5 embedding at half its configured scale (weighs less against the counts)",
    "e5_scale_24": "the e5 embedding at 1.5 times its configured scale",
    "no_spacy": "WhitespaceTokenizer instead of the nl_gids spaCy pipeline (no lemmas, no gazetteer)",
    "no_char_ngrams": "without the character n-gram CountVectorsFeaturizer",
    "logistic_regression": "LogisticRegressionClassifier instead of DIET",
    "no_lookup": "RegexFeaturizer without the lookup tables (place names, languages); domain regexes kept",
    "no_regex": "without the RegexFeaturizer (no domain-word regexes, no lookup tables)",
    "word_bigrams": "word CountVectorsFeaturizer with 1-2 word n-grams (\"tot ziens\", \"ons bedrijf\")",
    "diet_200": "DIETClassifier with 200 epochs instead of the configured number",
    "diet_hidden": "DIETClassifier with two hidden layers (256, 128) before the embedding, so word groups can interact",
    "char_2_5": "character n-grams 2-5 instead of the configured range",
    "diet": "DIETClassifier (100 epochs, no transformer, as in rounds 1-3) instead of logistic regression",
    "no_lemma": "word CountVectorsFeaturizer on the words as typed instead of spaCy lemmas (spaCy stays for the entities)",
    "lr_1000": "LogisticRegressionClassifier with max_iter 1000 (the default 100 may stop before it converges)",
    "raw_counts": "words and n-grams as raw counts, not present/absent at a fixed length (the classifier settings of round 4)",
}
# The DIET set-up of rounds 1-3, for the "diet" alternative.
DIET = {"name": "DIETClassifier", "epochs": 100, "number_of_transformer_layers": 0,
        "entity_recognition": False, "constrain_similarities": True, "random_seed": 42}
# The comparison REPORT.md holds; the other configurations are single-point pipeline experiments.
DEFAULT_CONFIGS = ["final", "raw_counts", "no_embeddings"]
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
AMBIGUITY = [0.0, 0.05, 0.1, 0.2]


def derive_config(name: str, target: Path) -> Path:
    import yaml

    cfg = yaml.safe_load((ROOT / "config.yml").read_text())
    pipe = cfg["pipeline"]
    embedder = "bot.nlp.rasa_components.SentenceEmbeddingFeaturizer"
    if name == "no_embeddings":
        pipe = [c for c in pipe if c["name"] != embedder]
    elif name == "e5_only":
        pipe = [c for c in pipe if c["name"] != embedder or c["encoder"] == "e5"]
    elif name == "use_only":
        pipe = [c for c in pipe if c["name"] != embedder or c["encoder"] == "use"]
    elif name in ("e5_scale_8", "e5_scale_24"):
        factor = 0.5 if name.endswith("_8") else 1.5
        pipe = [{**c, "scale": c["scale"] * factor} if c["name"] == embedder and c["encoder"] == "e5"
                else c for c in pipe]
    elif name == "no_spacy":
        pipe = [c for c in pipe if c["name"] not in ("SpacyNLP", "SpacyEntityExtractor")]
        pipe = [{"name": "WhitespaceTokenizer"} if c["name"] == "SpacyTokenizer" else c for c in pipe]
    elif name == "no_char_ngrams":
        pipe = [c for c in pipe if c.get("analyzer") != "char_wb"]
    elif name == "logistic_regression":
        pipe = [{"name": "LogisticRegressionClassifier"} if c["name"] == "DIETClassifier" else c for c in pipe]
    elif name == "diet":
        pipe = [dict(DIET) if c["name"].endswith("LogisticRegressionClassifier") else c for c in pipe]
    elif name == "no_lemma":
        pipe = [{**c, "use_lemma": False}
                if c["name"] == "CountVectorsFeaturizer" and c.get("analyzer", "word") == "word" else c
                for c in pipe]
    elif name == "lr_1000":
        pipe = [{**c, "max_iter": 1000} if c["name"].endswith("LogisticRegressionClassifier") else c for c in pipe]
    elif name == "raw_counts":
        pipe = [{k: v for k, v in c.items() if k not in ("binary", "lengths")}
                if c["name"].endswith("LogisticRegressionClassifier") else c for c in pipe]
    elif name == "no_lookup":
        pipe = [{**c, "use_lookup_tables": False} if c["name"] == "RegexFeaturizer" else c for c in pipe]
    elif name == "no_regex":
        pipe = [c for c in pipe if c["name"] != "RegexFeaturizer"]
    elif name == "word_bigrams":
        pipe = [{**c, "min_ngram": 1, "max_ngram": 2}
                if c["name"] == "CountVectorsFeaturizer" and c.get("analyzer", "word") == "word" else c
                for c in pipe]
    elif name == "diet_200":
        pipe = [{**c, "epochs": 200} if c["name"] == "DIETClassifier" else c for c in pipe]
    elif name == "diet_hidden":
        pipe = [{**c, "hidden_layers_sizes": {"text": [256, 128], "label": []}}
                if c["name"] == "DIETClassifier" else c for c in pipe]
    elif name == "char_2_5":
        pipe = [{**c, "min_ngram": 2, "max_ngram": 5} if c.get("analyzer") == "char_wb" else c for c in pipe]
    elif name != "final":
        raise ValueError(name)
    cfg["pipeline"] = pipe
    target.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return target


def load_examples() -> List[Tuple[str, str, Dict]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    return [(m.get("text"), m.get("intent"), m) for m in data.intent_examples], data


def stratified_folds(examples, k: int, seed: int = 13) -> List[List[int]]:
    by_intent: Dict[str, List[int]] = defaultdict(list)
    for i, (_, intent, _) in enumerate(examples):
        by_intent[intent].append(i)
    folds: List[List[int]] = [[] for _ in range(k)]
    rng = random.Random(seed)
    for intent in sorted(by_intent):
        idx = by_intent[intent][:]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return folds


def write_fold_data(data, train_idx: List[int], examples, path: Path) -> None:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    train = TrainingData(
        training_examples=[examples[i][2] for i in train_idx],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
    )
    path.write_text(train.nlu_as_yaml(), encoding="utf-8")


async def predict(model_path: str, texts: List[str]) -> List[Tuple[str, float, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
        second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
        out.append((top["name"], float(top["confidence"]), second))
    return out


def run_config(name: str, examples, data, folds) -> Dict:
    from rasa.model_training import train_nlu

    config_path = derive_config(name, Path(tempfile.mkdtemp()) / f"{name}.yml")
    records = []
    started = time.time()
    for f, test_idx in enumerate(folds):
        test_set = set(test_idx)
        train_idx = [i for i in range(len(examples)) if i not in test_set]
        with tempfile.TemporaryDirectory() as tmp:
            nlu_file = Path(tmp) / "nlu.yml"
            write_fold_data(data, train_idx, examples, nlu_file)
            model = train_nlu(str(config_path), str(nlu_file), output=tmp, fixed_model_name=f"fold{f}")
            preds = asyncio.run(predict(model, [examples[i][0] for i in test_idx]))
        for i, (pred, conf, second) in zip(test_idx, preds):
            records.append({"text": examples[i][0], "intent": examples[i][1], "predicted": pred,
                            "confidence": conf, "second": second, "fold": f})
        print(f"[{name}] fold {f + 1}/{len(folds)} done ({time.time() - started:.0f} s)", flush=True)
    return {"records": records, "seconds": time.time() - started}


def scores(records: List[Dict]) -> Dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    y = [r["intent"] for r in records]
    p = [r["predicted"] or "none" for r in records]
    labels = sorted(set(y))
    prec, rec, f1, support = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    per_intent = {l: {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(d)}
                  for l, a, b, c, d in zip(labels, prec, rec, f1, support)}
    confusions = defaultdict(int)
    for t, q in zip(y, p):
        if t != q:
            confusions[(t, q)] += 1
    thresholds = {}
    for th in THRESHOLDS:
        kept = [r for r in records if r["confidence"] >= th]
        wrong_kept = sum(1 for r in kept if r["predicted"] != r["intent"])
        right_dropped = sum(1 for r in records if r["confidence"] < th and r["predicted"] == r["intent"])
        thresholds[str(th)] = {"fallback_rate": 1 - len(kept) / len(records),
                               "wrong_answers": wrong_kept / len(records),
                               "right_answers_lost": right_dropped / len(records)}
    # The FallbackClassifier also falls back when the top two intents are closer than the
    # ambiguity threshold: the same three shares for a grid of both thresholds.
    grid = {}
    for th in THRESHOLDS[:4]:
        for amb in AMBIGUITY:
            asked = [r for r in records if r["confidence"] < th or r["confidence"] - r["second"] < amb]
            asked_ids = {id(r) for r in asked}
            kept = [r for r in records if id(r) not in asked_ids]
            grid[f"{th}/{amb}"] = {
                "fallback_rate": len(asked) / len(records),
                "wrong_answers": sum(1 for r in kept if r["predicted"] != r["intent"]) / len(records),
                "right_answers_lost": sum(1 for r in asked if r["predicted"] == r["intent"]) / len(records)}
    return {"accuracy": float(accuracy_score(y, p)),
            "ambiguity_grid": grid,
            "macro_f1": float(f1_score(y, p, labels=labels, average="macro", zero_division=0)),
            "per_intent": per_intent,
            "confusions": sorted(([a, b, n] for (a, b), n in confusions.items()), key=lambda x: -x[2])[:10],
            "thresholds": thresholds}


TOPICS = {"ask_retraining", "ask_debt_help", "ask_language_help", "ask_vacancies", "ask_benefits",
          "ask_career_advice", "ask_dismissal_help", "ask_apprenticeship", "employer_hiring",
          "employer_training"}


def report(results: Dict[str, Dict], n_examples: int, folds: int, scored: int) -> str:
    partial = "" if scored == folds else f" PARTIAL: only the first {scored} folds were scored."
    minutes = sum(r["seconds"] for r in results.values()) / 60
    names = list(results)
    command = ".venv/bin/python bench/nlu/crossval.py" + (
        "" if names == DEFAULT_CONFIGS else " --configs " + " ".join(names))
    lines = ["# NLU pipeline: 5-fold cross-validation", "",
             f"Reproduce: `nice -n 19 {command}` (these configurations took {minutes:.0f} minutes "
             "on 2 shared cores). Earlier rounds and the single-point pipeline experiments: HISTORY.md.",
             f"Data: {n_examples} examples in data/nlu, {folds} stratified folds (seed 13), the same "
             "folds for every configuration. Scored: the classifier's own top intent (before the "
             "FallbackClassifier)." + partial, "",
             *[f"- **{k}**: {v}" for k, v in CONFIGS.items() if k in results], "",
             "| configuration | accuracy | macro-F1 | lowest topic F1 | weakest intents (F1) | train+test time |",
             "|---|---|---|---|---|---|"]
    for name, res in results.items():
        s = res["scores"]
        per = s["per_intent"]
        weakest = sorted(per.items(), key=lambda kv: kv[1]["f1"])[:3]
        lowest_topic = min(v["f1"] for k, v in per.items() if k in TOPICS)
        lines.append(f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {lowest_topic:.3f} | "
                     + ", ".join(f"{k} {v['f1']:.2f}" for k, v in weakest)
                     + f" | {res['seconds'] / 60:.1f} min |")
    for name, res in results.items():
        s = res["scores"]
        lines += ["", f"## {name}", "", "Per intent:", "", "| intent | precision | recall | F1 | n |",
                  "|---|---|---|---|---|"]
        for k, v in sorted(s["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
            lines.append(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
        lines += ["", "Most frequent confusions (true → predicted: count): "
                  + "; ".join(f"{a} → {b}: {n}" for a, b, n in s["confusions"]) or "none", "",
                  "Fallback threshold (share of all test messages):", "",
                  "| threshold | clarifying question instead | wrong answer given | right answer lost |",
                  "|---|---|---|---|"]
        for th, t in s["thresholds"].items():
            lines.append(f"| {th} | {t['fallback_rate']:.3f} | {t['wrong_answers']:.3f} | {t['right_answers_lost']:.3f} |")
        if name == next(iter(results)) and s.get("ambiguity_grid"):
            lines += ["", "With the ambiguity threshold (top two intents closer than this → clarifying question):", "",
                      "| threshold / ambiguity | clarifying question instead | wrong answer given | right answer lost |",
                      "|---|---|---|---|"]
            for key, t in s["ambiguity_grid"].items():
                lines.append(f"| {key} | {t['fallback_rate']:.3f} | {t['wrong_answers']:.3f} | {t['right_answers_lost']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    ap.add_argument("--folds", type=int, default=5)
    # For quick pipeline experiments: score only the first N folds (a partial result, and said so).
    ap.add_argument("--only-folds", type=int, default=None, metavar="N")
    ap.add_argument("--out", type=Path, default=HERE, help="directory for REPORT.md and results.json")
    args = ap.parse_args()
    os.chdir(ROOT)
    examples, data = load_examples()
    folds = stratified_folds(examples, args.folds)
    if args.only_folds:
        folds = folds[:args.only_folds]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.configs:
        res = run_config(name, examples, data, folds)
        res["scores"] = scores(res["records"])
        results[name] = res
        print(f"[{name}] accuracy {res['scores']['accuracy']:.3f} macro-F1 {res['scores']['macro_f1']:.3f}", flush=True)
        # Written after every configuration, so a long run can be read while it goes on.
        (out / "results.json").write_text(json.dumps(
            {k: {"scores": v["scores"], "seconds": v["seconds"],
                 "errors": [r for r in v["records"] if r["predicted"] != r["intent"]]}
             for k, v in results.items()}, indent=1, ensure_ascii=False))
        (out / "REPORT.md").write_text(report(results, len(examples), args.folds, len(folds)))
    print((out / "REPORT.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
