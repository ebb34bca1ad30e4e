"""Several needs in one message: does the gids find them all, and which one comes first?

    nice .venv/bin/python bench/nlu/multineed.py            # models/gids.tar.gz, writes MULTINEED.md
    nice .venv/bin/python bench/nlu/multineed.py --words-only   # no model: the word patterns alone

bench/nlu/multineed.yml (messages with two or three needs) and multineed_single.yml (one need, in
words that could mislead a pattern: "ik heb geen schulden, ik zoek alleen werk") were written by
another hand from docs/intents.md, without reading data/nlu; heldout.yml is the single-intent
held-out set. Never train on them.

Three ways to find the needs, side by side:
- ranking: the classifier's intent and the next topics in its ranking at >= 0.25 (the gids
  until this bench);
- words: bot.nlp.needs' patterns alone;
- words + intent: the patterns plus the classifier's topic (what the NeedFinder component does).

"all found": every labelled need is among those found. "first right": the first need after
bot.routing.order_needs is as urgent as the labelled one (debts, then language, then benefits
and dismissal, then the rest: the tiers the Werkcentra advise); "exactly first" asks for the very
same topic. "extra": a need found that is not labelled.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from bot.nlp.needs import EMPLOYER_TOPICS, RESIDENT_TOPICS, needs_of  # noqa: E402
from bot.nlp.needs import find_needs  # noqa: E402
from bot.routing.services import order_needs  # noqa: E402

TOPICS = RESIDENT_TOPICS + EMPLOYER_TOPICS
TIER = {"ask_debt_help": 0, "ask_language_help": 1, "ask_benefits": 2, "ask_dismissal_help": 2}
SECONDARY = 0.25


def tier(topic: Optional[str]) -> int:
    if topic in EMPLOYER_TOPICS:
        return 4
    return TIER.get(topic or "", 3)


def load(name: str) -> List[Dict]:
    return yaml.safe_load((HERE / name).read_text())["messages"]


def load_heldout() -> List[Dict]:
    data = yaml.safe_load((HERE / "heldout.yml").read_text())
    out = []
    for block in data["nlu"]:
        if block.get("intent") in TOPICS:
            for line in block["examples"].splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if text:
                    out.append({"text": text, "needs": [block["intent"]], "urgent": block["intent"]})
    return out


CACHE = Path.home() / ".cache" / "werkcentrum-gids" / "multineed"


def parse_all(model: Path, texts: Sequence[str]) -> Dict[str, Dict]:
    """The model's parse of every text, cached per model file: changing the word patterns needs
    no new parse (and no Rasa: the cached run works on the maintained runtime too)."""
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    cache = CACHE / f"{digest}.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [t for t in dict.fromkeys(texts) if t not in known]
    if todo:
        import logging

        from rasa.core.agent import Agent

        logging.disable(logging.WARNING)

        async def run() -> None:
            agent = Agent.load(str(model))
            for t in todo:
                parsed = await agent.parse_message(t)
                known[t] = {"intent": parsed.get("intent"), "intent_ranking": parsed.get("intent_ranking", [])[:5],
                            "entities": parsed.get("entities", [])}

        asyncio.run(run())
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return known


def by_ranking(parsed: Dict) -> List[str]:
    """The gids before this bench: the intent and strong runners-up among the topics."""
    ranking = [r for r in parsed.get("intent_ranking", []) if r.get("name") != "nlu_fallback"]
    found = [r["name"] for r in ranking[:1] if r["name"] in TOPICS]
    found += [r["name"] for r in ranking[1:3] if r["name"] in TOPICS and r.get("confidence", 0) >= SECONDARY]
    return found


def by_words(text: str) -> List[str]:
    return list(dict.fromkeys(n.topic for n in find_needs(text)))


def by_words_and_intent(text: str, parsed: Dict) -> List[str]:
    ranking = [r for r in parsed.get("intent_ranking", []) if r.get("name") != "nlu_fallback"]
    return needs_of(text, ranking[0]["name"] if ranking else None)


def training_extra_share() -> tuple:
    """False second needs on the single-topic training examples, with their own topic as the
    classifier's answer (what the NeedFinder adds when the classifier is right)."""
    import re

    total = extra = 0
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if block.get("intent") in TOPICS:
                for line in block["examples"].splitlines():
                    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip()[2:].strip())
                    if text:
                        total += 1
                        extra += bool(set(needs_of(text, block["intent"])) - {block["intent"]})
    return extra, total


def score(items: List[Dict], found: List[List[str]]) -> Dict:
    n = len(items)
    all_found = sum(set(i["needs"]) <= set(f) for i, f in zip(items, found))
    exact = sum(set(i["needs"]) == set(f) for i, f in zip(items, found))
    firsts = [order_needs(f)[0] if order_needs(f) else None for f in found]
    first_right = sum(tier(first) == tier(i["urgent"]) for i, first in zip(items, firsts))
    exactly_first = sum(first == i["urgent"] for i, first in zip(items, firsts))
    extra = sum(bool(set(f) - set(i["needs"])) for i, f in zip(items, found))
    return {"messages": n, "all_found": all_found / n, "exact": exact / n, "first_right": first_right / n,
            "exactly_first": exactly_first / n, "with_extra": extra / n}


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "gids.tar.gz")
    ap.add_argument("--words-only", action="store_true", help="no model: the patterns alone")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()

    sets = {"multi-need (multineed.yml)": load("multineed.yml"),
            "one need, misleading words (multineed_single.yml)": load("multineed_single.yml"),
            "one need, held-out (heldout.yml topics)": load_heldout()}
    methods = ["words"] if args.words_only else ["ranking", "words", "words + intent"]
    results: Dict[str, Dict[str, Dict]] = {}
    misses: List[str] = []
    every = [i["text"] for items in sets.values() for i in items]
    parses = {} if args.words_only else parse_all(args.model, every)
    for name, items in sets.items():
        texts = [i["text"] for i in items]
        parsed = [parses.get(t, {}) for t in texts]
        found = {"words": [by_words(t) for t in texts]}
        if not args.words_only:
            found["ranking"] = [by_ranking(p) for p in parsed]
            found["words + intent"] = [by_words_and_intent(t, p) for t, p in zip(texts, parsed)]
        results[name] = {m: score(items, found[m]) for m in methods}
        if not args.words_only:
            fallbacks = sum((p.get("intent") or {}).get("name") == "nlu_fallback" for p in parsed)
            results[name]["words + intent"]["model_fallbacks"] = fallbacks / len(texts)
        final = found[methods[-1]]
        for item, f in zip(items, final):
            if set(item["needs"]) != set(f):
                misses.append(f"| {name.split(' (')[0]} | {item['text'][:110]} | {', '.join(item['needs'])} | "
                              f"{', '.join(f) or '—'} |")

    extra, total = training_extra_share()
    lines = ["# Several needs in one message", "",
             f"`nice .venv/bin/python bench/nlu/multineed.py{' --words-only' if args.words_only else ''}`"
             + ("" if args.words_only else f" with `{args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model}`")
             + ". How the figures are counted: see the script's docstring.", "",
             "Read with care: the patterns of bot/nlp/needs.py were first written from docs/intents.md and the",
             f"training data (on its {total} single-topic examples they find a second need in {extra} = "
             f"{pct(extra / total)}; tests/test_needs.py keeps that under 6 %), then revised twice after reading",
             "the misses on these sets. The multi-need figures are therefore optimistic; the next round needs a",
             "fresh set written by another hand. \"ranking\" is the gids before the NeedFinder.", ""]
    for name, per in results.items():
        lines += [f"## {name}: {sets[name].__len__()} messages", "",
                  "| method | all found | exactly these | first right | exactly first | with an extra need |",
                  "|---|---|---|---|---|---|"]
        for m, s in per.items():
            lines.append(f"| {m} | {pct(s['all_found'])} | {pct(s['exact'])} | {pct(s['first_right'])} | "
                         f"{pct(s['exactly_first'])} | {pct(s['with_extra'])} |")
        if "model_fallbacks" in per.get("words + intent", {}):
            lines += ["", f"The model alone answers {pct(per['words + intent']['model_fallbacks'])} of these "
                          "with the fallback; the NeedFinder component turns a fallback with a named need into that need."]
        lines.append("")
    lines += [f"## Where `{methods[-1]}` differs from the labels", "", "| set | message | labelled | found |",
              "|---|---|---|---|", *misses, ""]
    (args.out / "MULTINEED.md").write_text("\n".join(lines))
    (args.out / "multineed.json").write_text(json.dumps(results, indent=2))
    print("\n".join(lines[:60]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
