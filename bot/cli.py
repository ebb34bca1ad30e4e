"""The ``gids`` command: the administrator's and developer's entry point."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def _cmd_nlp_build(args: argparse.Namespace) -> int:
    from bot.nlp import build
    argv = (["--force"] if args.force else []) + (["--base", args.base] if args.base else [])
    return build.main(argv)


def _cmd_nlp_lookups(args: argparse.Namespace) -> int:
    from bot.nlp import lookups
    print(f"wrote {lookups.LOOKUP_FILE} ({lookups.write()} place names) and {lookups.PLACE_WORDS_FILE}")
    return 0


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
    """A terminal chat over the gateway's REST endpoint, for trying the gids right after start."""
    import urllib.error
    import urllib.request

    url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    conversation = None  # the gateway issues it with the first answer
    print("Typ je bericht. Stoppen: Ctrl-D of /stop.")
    while True:
        try:
            text = input("jij> ")
        except EOFError:
            print()
            return 0
        if text.strip() == "/stop":
            return 0
        body = {"message": text, **({"sender": conversation} if conversation else {})}
        req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                conversation = resp.headers.get("X-Gids-Conversation") or conversation
                answers = json.load(resp)
        except urllib.error.HTTPError as exc:
            # 413, 429 and 503 carry an answer for the person; anything else is a problem to show.
            try:
                answers = json.load(exc)
            except ValueError:
                answers = None
            if not isinstance(answers, list):
                print(f"[de gids antwoordde {exc.code}]")
                continue
        except (urllib.error.URLError, OSError) as exc:
            print(f"[de gids is niet bereikbaar op {args.url}: {exc}]")
            continue
        for answer in answers:
            if answer.get("text"):
                print(f"gids> {answer['text']}")
            for i, button in enumerate(answer.get("buttons") or [], 1):
                print(f"      {i}. {button.get('title')}")


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import database_url, migrate
    migrate.upgrade()
    print(f"database schema up to date: {_safe_url(database_url())}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def _cmd_routing_seed(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from bot.db import session_scope
    from bot.db.models import Gemeente
    from bot.routing.seed import add_sector_funds, seed
    with session_scope() as session:
        if args.if_empty and session.execute(select(func.count()).select_from(Gemeente)).scalar():
            # A table filled before the sectoral route existed gets the sector funds, once.
            added = add_sector_funds(session)
            print("routing table already filled; not seeded again"
                  + (f" (sector funds added: {added['partner']} partners, {added['service']} services)"
                     if added else ""))
            return 0
        counts = seed(session)
    print("routing table seeded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def _cmd_routing_export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.routing import io as routing_io
    if args.format == "csv" and not args.out:
        print("gids routing export --format csv needs --out DIRECTORY", file=sys.stderr)
        return 2
    try:
        written = routing_io.export_to(args.format, args.out)
    except SQLAlchemyError as exc:
        print(f"export failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 4
    if args.out:  # stdout stays pure YAML; the note goes to stderr
        print(f"routing table exported to {', '.join(map(str, written or [args.out]))}", file=sys.stderr)
    return 0


def _cmd_routing_import(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.routing import io as routing_io
    try:
        result = routing_io.import_files(args.files, dry_run=args.dry_run)
    except SQLAlchemyError as exc:
        print(f"import failed in the database, nothing changed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 4
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if not result.ok:
        n = len(result.problems)
        print(f"{n} problem{'' if n == 1 else 's'}; nothing was imported", file=sys.stderr)
        return 1
    print(("dry run, nothing changed: " if args.dry_run else "imported: ") + str(result.summary))
    return 0


def _cmd_routing_coverage(args: argparse.Namespace) -> int:
    from bot.routing import DatabaseUnavailable, coverage
    region = args.region.upper() if args.region else None
    try:
        report = coverage(region)
    except DatabaseUnavailable as exc:
        print(f"coverage failed: the database is unreachable: {exc}", file=sys.stderr)
        return 4
    if not report["rows"]:
        print(f"unknown arbeidsmarktregio {args.region!r} (a code such as AM01)", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(format_coverage(report))
    return 0


def format_coverage(report: dict) -> str:
    """The coverage report as a table, the gaps first (see bot.routing.reach)."""
    lines = [f"{'region':34} {'topic':19} {'gemeenten':>9} {'shown':>6} {'reachable':>9} "
             f"{'verified':>8} {'held back':>9} {'no reach':>8}  held back (no phone, website, e-mail or address)"]
    for r in report["rows"]:
        region = f"{r['region_code']} {r['region_name']}"[:34]
        lines.append(f"{region:34} {r['topic']:19} {r['gemeenten']:>9} {r['shown']:>6} {r['reachable']:>9} "
                     f"{r['verified']:>8} {r['held_back']:>9} {r['without_reachable']:>8}  "
                     f"{', '.join(r['held_back_partners']) or '-'}")
    t = report["totals"]
    lines.append(f"total: {t['shown']} cards shown, {t['reachable']} reachable ({t['reachable_share']:.1%}), "
                 f"{t['verified']} verified, {t['held_back']} held back; {t['without_reachable']} "
                 f"gemeente × topic without a reachable card")
    return "\n".join(lines)


def _cmd_route(args: argparse.Namespace) -> int:
    from bot.routing import DatabaseUnavailable, route
    try:
        result = route(args.topic, args.place, args.audience, sector=args.sector)
    except DatabaseUnavailable as exc:
        print(json.dumps({"error": "database_unavailable", "detail": str(exc)}) if args.json
              else f"De database is niet bereikbaar: {exc}", file=sys.stderr)
        return 4
    code = 0 if "services" in result else 2 if "ambiguous" in result else 3
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return code
    if code == 0:
        p = result["place"]
        print(f"{p['input']} → gemeente {p['gemeente']['name']} ({p['gemeente']['code']}), "
              f"arbeidsmarktregio {p['region']['name']} ({p['region']['code']})")
        for s in result["services"]:
            contact = ", ".join(f"{k}: {v}" for k, v in s["contact"].items()) or "geen contactgegevens bekend"
            flag = "" if s["verified"] else " [niet geverifieerd]"
            print(f"- {s['partner']} ({s['partner_type']}, {s['scope']}){flag}: {s['service']} — {contact}")
        sector = result.get("sector")
        if sector:
            print(f"sector {sector['input']!r} → {sector['key'] or 'onbekend'}"
                  + (f" ({sector['name']})" if sector["name"] else ""))
            for s in sector["services"]:
                contact = ", ".join(f"{k}: {v}" for k, v in s["contact"].items()) or "geen contactgegevens bekend"
                flag = "" if s["verified"] else " [niet geverifieerd]"
                print(f"- {s['partner']} (sectorfonds){flag}: {s['service']} — {contact}")
            if not sector["services"]:
                print("- geen sectorfonds voor deze vraag: het Werkcentrum en de vakbond helpen verder")
    elif code == 2:
        print("Meerdere gemeenten: " + "; ".join(f"{c['gemeente']['name']} ({c['gemeente']['code']})"
                                                for c in result["ambiguous"]))
    else:
        print(f"{result['error']}: {result['input']!r}; suggesties: {', '.join(result['suggestions']) or '-'}")
    return code


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gids", description="Werkcentrum Gids")
    sub = ap.add_subparsers(dest="command", required=True)

    nlp = sub.add_parser("nlp", help="the Dutch spaCy pipeline").add_subparsers(dest="what", required=True)
    b = nlp.add_parser("build", help="build and install the nl_gids spaCy package")
    b.add_argument("--force", action="store_true")
    b.add_argument("--base", help="nl_core_news_sm (default) or 'blank'")
    b.set_defaults(func=_cmd_nlp_build)

    lk = nlp.add_parser("lookups", help="regenerate data/nlu/lookup_location.yml and data/routing/place_words.txt")
    lk.set_defaults(func=_cmd_nlp_lookups)

    t = sub.add_parser("train", help="train the Rasa model unless the cached one is current")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("b1", help="B1 readability check of every response in domain.yml")
    r.add_argument("--domain", default=None)
    r.add_argument("--only-failing", action="store_true")
    r.set_defaults(func=_cmd_b1)

    db = sub.add_parser("db", help="the gids database").add_subparsers(dest="what", required=True)
    u = db.add_parser("upgrade", help="apply the Alembic migrations (DATABASE_URL or var/gids.db)")
    u.set_defaults(func=_cmd_db_upgrade)

    routing = sub.add_parser("routing", help="the routing table").add_subparsers(dest="what", required=True)
    sd = routing.add_parser("seed", help="replace the routing table with the seed in data/routing/")
    sd.add_argument("--if-empty", action="store_true", help="only when the table is empty")
    sd.set_defaults(func=_cmd_routing_seed)
    ex = routing.add_parser("export", help="export partners and services (YAML or CSV) for editing")
    ex.add_argument("--format", choices=["yaml", "csv"], default="yaml")
    ex.add_argument("--out", help="YAML: a file (default: stdout); CSV: a directory for "
                                  "partners.csv and services.csv")
    ex.set_defaults(func=_cmd_routing_export)
    im = routing.add_parser("import", help="validate and import partners and services (YAML or CSV)")
    im.add_argument("files", nargs="+", metavar="FILE",
                    help="a .yml/.yaml file, partners.csv, services.csv or a directory holding them")
    im.add_argument("--dry-run", action="store_true", help="validate and report, change nothing")
    im.set_defaults(func=_cmd_routing_import)
    cv = routing.add_parser("coverage", help="per arbeidsmarktregio × topic: cards shown, reachable, "
                                             "verified and held back; the gaps first")
    cv.add_argument("--region", metavar="AMxx", help="only this arbeidsmarktregio")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(func=_cmd_routing_coverage)

    ro = sub.add_parser("route", help="who helps with TOPIC in PLACE (the answer the actions give)")
    # The topics are spelled out here rather than imported: importing bot.routing for every
    # `gids` command would slow them all down.
    ro.add_argument("--topic", required=True, choices=ROUTE_TOPICS, metavar="TOPIC",
                    help="a topic intent: " + ", ".join(ROUTE_TOPICS))
    ro.add_argument("--place", required=True, help="place name or postcode")
    ro.add_argument("--audience", choices=["werkzoekende", "werkende", "werkgever"])
    ro.add_argument("--sector", metavar="KEY", help="the sectoral route too: a sector key (metaal, zorg_vvt, "
                                                    "…) or words for one (lasser)")
    ro.add_argument("--json", action="store_true")
    ro.set_defaults(func=_cmd_route)

    # Each part of the gids adds its own commands (handover, privacy, console, channels), so one
    # module per concern stays small and this file is not everyone's merge point.
    import importlib
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)

    c = sub.add_parser("chat", help="chat with a running gids in the terminal (the gateway's REST endpoint)")
    c.add_argument("--url", default="http://localhost:5005", help="the gateway")
    c.set_defaults(func=_cmd_chat)
    return ap


ROUTE_TOPICS = ("ask_retraining", "ask_debt_help", "ask_language_help", "ask_vacancies", "ask_benefits",
                "ask_career_advice", "ask_dismissal_help", "ask_apprenticeship", "employer_hiring",
                "employer_training")
COMMAND_MODULES = ("bot.handover.cli", "bot.privacy.cli", "bot.console.cli", "bot.channels.webchat.cli", "bot.gateway.cli")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
