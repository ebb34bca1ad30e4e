"""How fast the trained NLU answers one message, and what the sentence encoders cost.

    nice -n 5 .venv/bin/python bench/nlu/latency.py            # writes bench/nlu/LATENCY.md
    nice -n 5 .venv/bin/python bench/nlu/latency.py --messages 300

Loads models/gids.tar.gz (what ./setup.sh trained) the way the Rasa server does, then parses
messages one at a time, as a conversation does: training examples of every intent (short
fragments and long stories alike) and a few 1,500-character messages. Reports p50/p95/p99 of
one parse, the encoders' share of it, the model load time and the process's peak memory.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return pick(0.50), pick(0.95), pick(0.99)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "gids.tar.gz")
    ap.add_argument("--out", type=Path, default=HERE / "LATENCY.md")
    args = ap.parse_args()

    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlp import embeddings

    rng = random.Random(7)
    texts = [m.get("text") for m in load_data(str(ROOT / "data" / "nlu")).intent_examples]
    rng.shuffle(texts)
    story = ("Ik werk al twintig jaar in de bouw en mijn rug wil niet meer. Mijn baas zegt dat er "
             "misschien een reorganisatie komt. Ik heb ook wat schulden. ")
    messages = texts[:max(0, args.messages - 10)] + [(story * 12)[:1500]] * min(10, args.messages)

    started = time.perf_counter()
    agent = Agent.load(str(args.model))
    load_s = time.perf_counter() - started
    # The first parse loads the encoders' weights and warms the caches: timed apart.
    started = time.perf_counter()
    asyncio.run(agent.parse_message("hallo"))
    first_ms = (time.perf_counter() - started) * 1000

    async def parse_all():
        out = []
        for text in messages:
            t0 = time.perf_counter()
            await agent.parse_message(text)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    parse_ms = asyncio.run(parse_all())
    encoder_ms = {}
    for name in embeddings.ENCODERS:
        samples = []
        for text in messages:
            t0 = time.perf_counter()
            embeddings.embed(name, [text])
            samples.append((time.perf_counter() - t0) * 1000)
        encoder_ms[name] = samples
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [("whole parse (`agent.parse_message`)", parse_ms)] + [
        (f"of which encoder `{name}` alone", ms) for name, ms in encoder_ms.items()]
    lines = ["# NLU latency", "",
             f"Reproduce: `nice -n 5 .venv/bin/python bench/nlu/latency.py --messages {args.messages}`. "
             f"{len(messages)} messages parsed one at a time ({len(messages) - min(10, args.messages)} "
             "training examples of every intent in random order, 10 of 1,500 characters), "
             f"{os.cpu_count()} cores.", "",
             "| what | p50 | p95 | p99 | mean |", "|---|---|---|---|---|"]
    for label, ms in rows:
        p50, p95, p99 = percentiles(ms)
        lines.append(f"| {label} | {p50:.1f} ms | {p95:.1f} ms | {p99:.1f} ms | {statistics.mean(ms):.1f} ms |")
    lines += ["", f"- model load (`Agent.load`): {load_s:.1f} s; first parse (encoders load): {first_ms:.0f} ms",
              f"- peak memory of the process (model, spaCy pipeline, both encoders): {peak_mib:.0f} MiB"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
