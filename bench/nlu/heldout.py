"""The trained model on a held-out set that was written without seeing the training data.

    nice .venv/bin/python bench/nlu/heldout.py            # models/gids.tar.gz, writes HELDOUT.md
    nice .venv/bin/python bench/nlu/heldout.py --model /tmp/other.tar.gz --out /tmp/h
    nice .venv/bin/python bench/nlu/heldout.py --data bench/nlu/newcomers_heldout.yml   # NEWCOMERS_HELDOUT.md

Cross-validation (crossval.py) tests on held-out folds of our own data, so it rewards examples
written alike. bench/nlu/heldout.yml was written by another hand from docs/intents.md alone,
without reading data/nlu; it is never trained on. Use it to measure, not to tune: an example
that is copied into data/nlu stops measuring anything (the script counts such overlaps).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from crossval import ROOT, TOPICS, load_examples, predict, scores  # noqa: E402  (same scoring)


def main() -> int:
    from rasa.shared.nlu.training_data.loading import load_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "gids.tar.gz")
    ap.add_argument("--data", type=Path, default=HERE / "heldout.yml")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()

    held = [(m.get("text"), m.get("intent")) for m in load_data(str(args.data)).intent_examples]
    trained = {text.lower() for text, _, _ in load_examples()[0]}
    overlap = [text for text, _ in held if text.lower() in trained]
    preds = asyncio.run(predict(str(args.model), [text for text, _ in held]))
    records = [{"text": text, "intent": intent, "predicted": pred, "confidence": conf, "second": second}
               for (text, intent), (pred, conf, second) in zip(held, preds)]
    s = scores(records)
    per = s["per_intent"]
    lines = ["# NLU on the held-out set", "",
             f"Reproduce: `nice .venv/bin/python bench/nlu/heldout.py --data {args.data.name}` (model `{args.model.name}`, "
             f"data `{args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data}`).",
             f"{len(held)} messages written from docs/intents.md without reading data/nlu; "
             f"{len(overlap)} of them (short ones such as \"{overlap[0] if overlap else ''}\") also stand in "
             "the training data, so the second row leaves those out.", "",
             "| messages | accuracy | macro-F1 | lowest topic F1 | clarifying question at 0.5/0.1 | wrong answer at 0.5/0.1 |",
             "|---|---|---|---|---|---|"]
    new = [r for r in records if r["text"].lower() not in trained]
    for label, part in ((f"all {len(records)}", s), (f"the {len(new)} not in data/nlu", scores(new))):
        lowest_topic = min(v["f1"] for k, v in part["per_intent"].items() if k in TOPICS)
        fallback = part["ambiguity_grid"]["0.5/0.1"]
        lines.append(f"| {label} | {part['accuracy']:.3f} | {part['macro_f1']:.3f} | {lowest_topic:.3f} | "
                     f"{fallback['fallback_rate']:.3f} | {fallback['wrong_answers']:.3f} |")
    lines += ["", "Per intent (all messages):", "",
              "| intent | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for k, v in sorted(per.items(), key=lambda kv: kv[1]["f1"]):
        lines.append(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    lines += ["", "Misclassified (true → predicted, confidence):", ""]
    lines += [f"- {r['intent']} → {r['predicted']} ({r['confidence']:.2f}): {r['text']}"
              for r in sorted(records, key=lambda r: (r["intent"], r["predicted"] or ""))
              if r["predicted"] != r["intent"]]
    args.out.mkdir(parents=True, exist_ok=True)
    # heldout.yml → HELDOUT.md, newcomers_heldout.yml → NEWCOMERS_HELDOUT.md
    (args.out / f"{args.data.stem.upper()}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:10]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
