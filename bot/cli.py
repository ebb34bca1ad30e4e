"""The ``gids`` command: the administrator's and developer's entry point."""
from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import List, Optional


def _cmd_nlp_build(args: argparse.Namespace) -> int:
    from bot.nlp import build
    argv = (["--force"] if args.force else []) + (["--base", args.base] if args.base else [])
    return build.main(argv)


def _cmd_train(args: argparse.Namespace) -> int:
    from bot.model import ensure_model
    ensure_model(force=args.force)
    return 0


def _cmd_b1(args: argparse.Namespace) -> int:
    from bot.b1 import check_domain
    report = check_domain(args.domain)
    failing = [r for r in report if not r.ok]
    for r in (failing if args.only_failing else report):
        mark = "ok  " if r.ok else "FAIL"
        print(f"{mark} {r.name:34} {r.words_per_sentence:5.1f} w/s  Flesch-Douma {r.flesch_douma:6.1f}"
              f"{'  ' + '; '.join(r.problems) if r.problems else ''}")
    print(f"{len(report) - len(failing)} passed, {len(failing)} failed")
    return 1 if failing else 0


def _cmd_chat(args: argparse.Namespace) -> int:
    """A terminal chat over the REST channel, for trying the gids right after start."""
    import urllib.error
    import urllib.request

    sender = args.sender or f"terminal-{uuid.uuid4().hex[:8]}"
    url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    print("Typ je bericht. Stoppen: Ctrl-D of /stop.")
    while True:
        try:
            text = input("jij> ")
        except EOFError:
            print()
            return 0
        if text.strip() == "/stop":
            return 0
        body = json.dumps({"sender": sender, "message": text}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                answers = json.load(resp)
        except (urllib.error.URLError, OSError) as exc:
            print(f"[de gids is niet bereikbaar op {args.url}: {exc}]")
            continue
        for answer in answers:
            if answer.get("text"):
                print(f"gids> {answer['text']}")
            for i, button in enumerate(answer.get("buttons") or [], 1):
                print(f"      {i}. {button.get('title')}")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gids", description="Werkcentrum Gids")
    sub = ap.add_subparsers(dest="command", required=True)

    nlp = sub.add_parser("nlp", help="the Dutch spaCy pipeline").add_subparsers(dest="what", required=True)
    b = nlp.add_parser("build", help="build and install the nl_gids spaCy package")
    b.add_argument("--force", action="store_true")
    b.add_argument("--base", help="nl_core_news_sm (default) or 'blank'")
    b.set_defaults(func=_cmd_nlp_build)

    t = sub.add_parser("train", help="train the Rasa model unless the cached one is current")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("b1", help="B1 readability check of every response in domain.yml")
    r.add_argument("--domain", default=None)
    r.add_argument("--only-failing", action="store_true")
    r.set_defaults(func=_cmd_b1)

    c = sub.add_parser("chat", help="chat with a running gids in the terminal (REST channel)")
    c.add_argument("--url", default="http://localhost:5005")
    c.add_argument("--sender")
    c.set_defaults(func=_cmd_chat)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
