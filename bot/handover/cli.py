"""`gids` subcommands of bot.handover (registered by bot/cli.py):

  gids worker [--once] [--interval SECONDS]   deliver partner notifications; purge once a day
  gids outbox status [--json]                 what waits in the outbox
  gids outbox retry REFERENCE                 send a handover's waiting notifications now
  gids partner webhook-secret PARTNER_ID      the partner's own webhook signing secret
"""
from __future__ import annotations

import argparse
import json
import logging
import sys


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError("the interval must be between 0.1 and 3600 seconds")
    return value


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # A second line of defence: the worker logs no personal data on purpose, and this redacts
        # whatever a library might still put in a record (an exception text, say).
        from bot.privacy.logging import install_redacting_filter
    except ImportError as exc:
        logging.getLogger("bot.handover.worker").warning("log redaction not installed: %s", exc)
    else:
        install_redacting_filter()


def _cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    from bot.db import DatabaseUnavailable
    from bot.handover import outbox, worker

    _setup_logging()
    if args.once:
        try:
            counts = asyncio.run(outbox.deliver_due())
        except DatabaseUnavailable as exc:
            print(f"the database is not reachable, nothing was sent: {exc}", file=sys.stderr)
            return 4
        print(f"{counts['leased']} due: {counts['sent']} sent, {counts['retry']} failed and kept for "
              f"a later try" + (f", {counts['unrecorded']} not recorded (database)" if counts["unrecorded"] else "")
              + (f", {counts['failed']} refused (see gids outbox status)" if counts.get("failed") else "")
              + (f"; {counts['cancelled']} cancelled (handover closed or forwarded)" if counts.get("cancelled") else ""))
        return 0
    asyncio.run(worker.serve(interval=args.interval))
    return 0


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days {seconds % 86400 // 3600} h"


def _cmd_outbox_status(args: argparse.Namespace) -> int:
    from bot.db import DatabaseUnavailable
    from bot.handover import outbox

    try:
        report = outbox.status(many_attempts=args.many)
    except DatabaseUnavailable as exc:
        print(f"the database is not reachable: {exc}", file=sys.stderr)
        return 4
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"pending: {report['pending']} ({report['due_now']} due now)")
    print(f"sent:    {report['sent']}")
    print(f"cancelled: {report['cancelled']} (handover closed or forwarded before delivery)")
    print(f"oldest pending: {_age(report['oldest_pending_age_seconds'])}")
    stuck = report["many_attempts"]
    print(f"pending after {args.many} or more attempts: {len(stuck)}")
    for m in stuck:
        print(f"  {m['reference']} {m['kind']:7} to {m['partner_id']}: {m['attempts']} attempts, "
              f"next {m['next_attempt_at']} UTC, last error: {m['last_error'] or '-'}")
    failed = report["failed_messages"]
    print(f"failed, not tried again until you run gids outbox retry REFERENCE: {len(failed)}")
    for m in failed:
        print(f"  {m['reference']} {m['kind']:7} to {m['partner_id']}: {m['last_error']}")
    return 0


def _cmd_outbox_retry(args: argparse.Namespace) -> int:
    from bot.db import DatabaseUnavailable
    from bot.handover import outbox

    try:
        result = outbox.retry(args.reference)
    except DatabaseUnavailable as exc:
        print(f"the database is not reachable, nothing changed: {exc}", file=sys.stderr)
        return 4
    if not result.found:
        print(f"no handover with reference {args.reference.strip().upper()!r}", file=sys.stderr)
        return 1
    if not result.due:
        cancelled = (f" ({result.cancelled} cancelled now: the handover was closed or forwarded)"
                     if result.cancelled else "")
        print(f"{args.reference.strip().upper()}: no notifications waiting (all sent or cancelled, or the "
              f"partner has no handover e-mail or webhook){cancelled}")
        return 0
    note = (f"; {result.retargeted} now go to the partner's current address" if result.retargeted else "")
    if result.revived:
        note += f"; {result.revived} had been refused and will be tried again"
    print(f"{args.reference.strip().upper()}: {result.due} waiting notification(s) due now{note}. "
          f"The worker sends them in its next round.")
    return 0


def _cmd_partner_webhook_secret(args: argparse.Namespace) -> int:
    import os

    from sqlalchemy import select

    from bot.db import DatabaseUnavailable, database_errors, session_scope
    from bot.db.models import Partner
    from bot.handover.notify import partner_webhook_secret

    master = os.environ.get("GIDS_WEBHOOK_SECRET", "")
    if not master:
        print("GIDS_WEBHOOK_SECRET is not set: set the same master secret the worker uses", file=sys.stderr)
        return 2

    def find():
        with session_scope() as session:
            row = session.execute(select(Partner.id, Partner.name, Partner.handover_webhook)
                                  .where(Partner.id == args.partner_id)).first()
            return tuple(row) if row is not None else None

    try:
        with database_errors("reading the partner"):
            partner = find()
    except DatabaseUnavailable as exc:
        print(f"the database is not reachable: {exc}", file=sys.stderr)
        return 4
    if partner is None:
        # A secret for a mistyped id would never verify: the worker signs with the partner's real id.
        print(f"no partner with id {args.partner_id!r} (see gids routing export)", file=sys.stderr)
        return 1
    partner_id, name, webhook = partner
    print(partner_webhook_secret(master, partner_id))
    print(f"The webhook secret of {name} ({partner_id}). Give it to them over a safe channel; they check "
          f"X-Gids-Signature with it (docs/webhooks.md). It changes when GIDS_WEBHOOK_SECRET changes."
          + ("" if (webhook or "").strip() else " This partner has no handover webhook yet."), file=sys.stderr)
    return 0


def _cmd_partner_changes(args: argparse.Namespace) -> int:
    from bot.db import DatabaseUnavailable, database_errors, session_scope
    from bot.routing import changes

    try:
        with database_errors("reading the change requests"), session_scope() as session:
            rows = changes.waiting(session, args.region)
    except DatabaseUnavailable as exc:
        print(f"the database is not reachable: {exc}", file=sys.stderr)
        return 4
    if args.json:
        print(json.dumps([{"id": r.id, "partner_id": r.partner_id, "partner": r.partner_name, "region": r.region,
                           "proposed_by": r.proposed_by, "proposed_at": r.proposed_at.isoformat(),
                           "changes": {c.field: {"old": c.old, "new": c.new} for c in r.changes}}
                          for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("No change requests are waiting.")
    for r in rows:
        print(f"#{r.id} {r.partner_name} ({r.partner_id}, {r.region or 'national'}), "
              f"proposed by {r.proposed_by} on {r.proposed_at:%Y-%m-%d %H:%M} UTC")
        for c in r.changes:
            print(f"    {c.field}: {c.old or '-'} -> {c.new or '(clear)'}")
    if rows:
        print("Approve or reject them in the console: /changes", file=sys.stderr)
    return 0


def register(sub: "argparse._SubParsersAction") -> None:
    w = sub.add_parser("worker", help="deliver partner notifications (outbox) and purge old data daily")
    w.add_argument("--once", action="store_true", help="one delivery round, then stop (no purge)")
    w.add_argument("--interval", type=_seconds, default=5.0, metavar="SECONDS",
                   help="seconds between delivery rounds (default 5)")
    w.set_defaults(func=_cmd_worker)

    ob = sub.add_parser("outbox", help="the partner-notification outbox").add_subparsers(dest="what", required=True)
    st = ob.add_parser("status", help="pending and sent counts, oldest pending, repeated failures")
    st.add_argument("--json", action="store_true")
    st.add_argument("--many", type=int, default=5, metavar="N",
                    help="list pending messages with at least N attempts (default 5)")
    st.set_defaults(func=_cmd_outbox_status)
    rt = ob.add_parser("retry", help="make a handover's pending notifications due now")
    rt.add_argument("reference", help="the handover reference, e.g. WC-2026-000123")
    rt.set_defaults(func=_cmd_outbox_retry)

    pa = sub.add_parser("partner", help="partner settings for handovers").add_subparsers(dest="what", required=True)
    ws = pa.add_parser("webhook-secret", help="print the partner's own webhook signing secret (derived from "
                                              "GIDS_WEBHOOK_SECRET) to give to the partner")
    ws.add_argument("partner_id", metavar="PARTNER_ID", help="the partner id, e.g. uwv or gemeente-GM0014")
    ws.set_defaults(func=_cmd_partner_webhook_secret)
    ch = pa.add_parser("changes", help="the partners' proposed changes to their cards that wait for a decision")
    ch.add_argument("--region", metavar="AMxx", help="only the partners of this arbeidsmarktregio")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(func=_cmd_partner_changes)
