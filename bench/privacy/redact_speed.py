"""How long bot.privacy.redact() takes: on realistic messages (p50/p95 in µs) and on adversarial
inputs of 5,000 and 80,000 characters (best of 3, ms). Writes bench/privacy/REDACT.md.

    cd /work/main && nice .venv/bin/python bench/privacy/redact_speed.py
    nice .venv/bin/python bench/privacy/redact_speed.py --baseline HEAD   # also time the module as committed

Realistic messages: the NLU training examples (data/nlu) and as many generated messages that hold
personal data (BSN, IBAN, phone numbers, e-mail, addresses, dates of birth, in the ways people write
them). Every call starts with phonenumbers' type cache empty, so a number seen before costs as much
as a new one. --baseline REF loads bot/privacy/__init__.py as it is in git at REF and times the
adversarial inputs with it too (80,000-character inputs only with --baseline-80k: they can take
seconds each).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent

import bot.privacy as privacy  # noqa: E402


def nlu_examples() -> list:
    texts = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:])
    return texts


def generated_messages(rng: random.Random, n: int) -> list:
    def digits(k):
        return "".join(rng.choice("0123456789") for _ in range(k))

    def bsn():
        while True:
            first8 = digits(8)
            check = sum((9 - i) * int(d) for i, d in enumerate(first8)) % 11
            if check < 10:
                number = first8 + str(check)
                return rng.choice([number, f"{number[:3]} {number[3:6]} {number[6:]}",
                                   f"{number[:3]}.{number[3:6]}.{number[6:]}",
                                   f"{number[:3]} {number[3:6]} {number[6:8]} {number[8]}"])

    templates = [
        lambda: f"Hallo, mijn bsn is {bsn()} en ik wil graag hulp bij mijn uitkering.",
        lambda: f"Kunt u mij terugbellen op 06-{rng.choice('12345')}{digits(7)}? Ik ben na 14 uur thuis.",
        lambda: f"Mijn nummer is +31 6 {rng.choice('12345')}{digits(3)} {digits(4)}, mail mag ook: "
                f"fatima.{digits(2)}@gmail.com",
        lambda: "Het geld mag naar NL91 ABNA 0417 1643 00, dank u wel.",
        lambda: f"Ik woon op de Dorpsstr. {rng.randint(1, 300)}, {rng.randint(1000, 9999)} AB Assen.",
        lambda: f"ik woon in {rng.randint(1000, 9999)} AB op nummer {rng.randint(1, 200)}, geboren op "
                f"{rng.randint(1, 28)}-{rng.randint(1, 12)}-{rng.randint(1950, 2005)}",
        lambda: f"Ik werk {rng.randint(8, 40)} uur per week en verdien {rng.randint(900, 4000)} euro. Bel 0800-0113?",
        lambda: f"geb. {rng.randint(1, 28)} maart {rng.randint(1950, 2005)}, bsn:{bsn().replace(' ', '')}",
    ]
    return [rng.choice(templates)() for _ in range(n)]


SEPARATORS = [" ", "\u00a0", "\u202f", "\u2009", "-", ".", "/", "(", ")", "+", " - "]


def adversarial_inputs(length: int) -> dict:
    rng = random.Random(7)

    def repeat(unit):
        return (unit * (length // len(unit) + 1))[:length]

    mixed, size = [], 0
    pieces = ["NL91 ", "a@", "Dorpsstraat 1 ", "1234 AB ", "geboren op ", "+31 ", "0031 ", "(0)"]
    while size < length:
        part = rng.choice([None, None, *pieces])
        if part is None:
            part = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12))) + rng.choice(SEPARATORS)
        mixed.append(part)
        size += len(part)
    mobiles = "".join(f"06{rng.randrange(10 ** 8):08d} " for _ in range(length // 11 + 1))[:length]
    return {
        '"0612345678 " repeated (the issue\'s 80 KB of digits)': repeat("0612345678 "),
        "distinct mobile numbers, space apart": mobiles,
        "digits, every separator": "".join(rng.choice("0123456789") if rng.random() < 0.7 else rng.choice(SEPARATORS)
                                           for _ in range(length)),
        '"12 34 56 782 " repeated': repeat("12 34 56 782 "),
        '"NL91 " repeated': repeat("NL91 "),
        '"a@" repeated': repeat("a@"),
        '"Dorpsstraat 1 " repeated': repeat("Dorpsstraat 1 "),
        '"1234 AB 12 " repeated': repeat("1234 AB 12 "),
        "all of these mixed": "".join(mixed)[:length],
    }


def cold(module) -> None:
    for name in ("_phone_type", "_phone_e164"):
        cache = getattr(module, name, None)
        if hasattr(cache, "cache_clear"):
            cache.cache_clear()


def time_once(module, text: str) -> float:
    cold(module)
    started = time.perf_counter()
    module.redact(text)
    return time.perf_counter() - started


def best_of(module, text: str, runs: int = 3) -> float:
    return min(time_once(module, text) for _ in range(runs))


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_baseline(ref: str):
    source = subprocess.run(["git", "show", f"{ref}:bot/privacy/__init__.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "privacy_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("privacy_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["privacy_baseline"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", type=int, default=2000, help="generated messages with personal data")
    ap.add_argument("--baseline", help="a git ref: also time bot/privacy/__init__.py as it is there")
    ap.add_argument("--baseline-80k", action="store_true", help="time the baseline on 80,000 characters too")
    ap.add_argument("--out", type=Path, default=HERE / "REDACT.md")
    args = ap.parse_args()
    baseline = load_baseline(args.baseline) if args.baseline else None
    baseline_name = ""
    if baseline is not None:
        commit = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        baseline_name = f"`{args.baseline}` ({commit})"
    load_start = os.getloadavg()

    rng = random.Random(13)
    sets = {"NLU training examples": nlu_examples(),
            "generated messages with personal data": generated_messages(rng, args.generated)}
    for texts in sets.values():
        for text in texts[:200]:
            privacy.redact(text)  # warm up: compiled patterns, metadata
    realistic = {}
    for name, texts in sets.items():
        samples = [time_once(privacy, text) * 1e6 for text in texts]
        realistic[name] = (len(texts), statistics.mean(len(t) for t in texts), percentile(samples, 0.5),
                           percentile(samples, 0.95), percentile(samples, 0.99))

    adversarial = []
    for length in (5_000, 80_000):
        for name, text in adversarial_inputs(length).items():
            new = best_of(privacy, text) * 1000
            old = None
            if baseline is not None and (length == 5_000 or args.baseline_80k):
                old = best_of(baseline, text, runs=1 if length > 5_000 else 3) * 1000
            adversarial.append((length, name, new, old))
    load_end = os.getloadavg()

    command = ("nice .venv/bin/python bench/privacy/redact_speed.py"
               + (f" --baseline {args.baseline}" if args.baseline else "")
               + (" --baseline-80k" if args.baseline_80k else ""))
    lines = ["# Redaction speed (bot.privacy.redact)", "",
             f"Reproduce: `cd /work/main && {command}`. Written by bench/privacy/redact_speed.py on "
             f"{dt.datetime.now().isoformat(timespec='seconds')}; Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs, load average {load_start[0]:.2f} at the start and {load_end[0]:.2f} at the end "
             "(the machine is shared: the figures are upper bounds). Every call starts with phonenumbers' type "
             "cache empty.", "",
             "## Realistic messages, one call each", "",
             "| messages | count | mean length | p50 µs | p95 µs | p99 µs |", "|---|---:|---:|---:|---:|---:|"]
    for name, (count, mean_len, p50, p95, p99) in realistic.items():
        lines.append(f"| {name} | {count} | {mean_len:.0f} | {p50:.0f} | {p95:.0f} | {p99:.0f} |")
    lines += ["", "## Adversarial inputs, best of 3", "",
              "The target (security review, issue 13): linear in the length of the text, 5,000 characters well "
              "under 50 ms.", ""]
    header = "| length | input | ms |" + (f" ms at {baseline_name} |" if baseline else "")
    lines += [header, "|---:|---|---:|" + ("---:|" if baseline else "")]
    for length, name, new, old in adversarial:
        row = f"| {length:,} | {name} | {new:.1f} |"
        if baseline is not None:
            row += f" {old:.1f} |" if old is not None else " (not run) |"
        lines.append(row)
    lines.append("")
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
