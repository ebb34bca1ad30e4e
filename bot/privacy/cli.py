"""`gids` subcommands of bot.privacy (registered by bot/cli.py):

    gids purge [--days N] [--dry-run]   delete what is older than the retention period
    gids forget REFERENCE               erase one person's handovers and conversation now

Exit codes: 0 done, 1 a setting is wrong (GIDS_TRACKER_URL), 2 unknown reference or bad
arguments, 4 a database is not available.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from typing import List, cast

_LABELS = {
    "handovers": "handovers",
    "transcript_lines": "transcript lines",
    "notes": "notes",
    "outbox_messages": "outbox messages",
    "channel_messages_seen": "channel message ids",
    "channel_contacts": "channel contacts",
    "tracker_conversations": "conversations (tracker)",
    "tracker_events": "conversation events (tracker)",
}


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a bare container
        return "cli"


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}")
    if days < 1:
        raise argparse.ArgumentTypeError("the retention period is at least 1 day")
    return days


def _print_counts(counts: dict) -> None:
    for key, label in _LABELS.items():
        if key in counts:
            print(f"  {label:31} {counts[key]:>7}")


def _cmd_purge(args: argparse.Namespace) -> int:
    from bot import config
    from bot.db import DatabaseUnavailable
    from bot.handover import utcnow
    from bot.privacy.retention import purge

    days = args.days or config.retention_days()
    now = utcnow()
    try:
        counts = purge(days=days, now=now, dry_run=args.dry_run, actor=_actor())
    except (DatabaseUnavailable, ValueError) as exc:
        print(f"purge failed, nothing deleted: {exc}", file=sys.stderr)
        return 4 if isinstance(exc, DatabaseUnavailable) else 1
    cutoff = now - timedelta(days=days)
    head = "dry run, nothing deleted; would delete" if args.dry_run else "deleted"
    print(f"{head} everything older than {days} days (before {cutoff:%Y-%m-%d %H:%M} UTC):")
    _print_counts(counts)
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from bot.db import DatabaseUnavailable
    from bot.privacy.retention import UnknownReference, forget

    try:
        result = forget(args.reference, actor=_actor())
    except UnknownReference:
        print(f"no handover with reference {args.reference.strip().upper()!r}; nothing erased",
              file=sys.stderr)
        return 2
    except (DatabaseUnavailable, ValueError) as exc:
        print(f"forget failed, nothing erased: {exc}", file=sys.stderr)
        return 4 if isinstance(exc, DatabaseUnavailable) else 1
    references = cast(List[str], result["references"])
    print(f"erased {len(references)} handover{'' if len(references) == 1 else 's'} of this "
          f"conversation ({', '.join(references)}):")
    _print_counts(result)
    return 0


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("purge", help="delete handovers, conversations and channel data older than "
                                     "the retention period (GIDS_RETENTION_DAYS, default 90)")
    p.add_argument("--days", type=_days, help="retention period in days (default: GIDS_RETENTION_DAYS)")
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    p.set_defaults(func=_cmd_purge)

    f = sub.add_parser("forget", help="erase one person's data now: the handover, every other "
                                      "handover of the same conversation, and the conversation")
    f.add_argument("reference", metavar="REFERENCE", help="a handover reference, e.g. WC-2026-000123")
    f.set_defaults(func=_cmd_forget)
