"""`gids` subcommands of bot.console (registered by bot/cli.py): the console itself, staff
accounts and partner API tokens. Each command imports what it needs when it runs: bot/cli.py
loads this module for every `gids` command."""
from __future__ import annotations

import argparse
import getpass
import os
import sys


def register(sub: "argparse._SubParsersAction") -> None:
    c = sub.add_parser("console", help="start the staff console (web)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8080)
    c.set_defaults(func=_cmd_console)

    user = sub.add_parser("user", help="staff accounts of the console").add_subparsers(dest="what", required=True)
    a = user.add_parser("add", help="add a staff account (asks for the password)")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=["werkcentrum", "partner", "admin"])
    a.add_argument("--region", help="werkcentrum staff: arbeidsmarktregio code, e.g. AM01")
    a.add_argument("--partner", help="partner staff: partner id, e.g. uwv or gemeente-GM0014")
    a.add_argument("--name", default="", help="the name shown in the console")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    a.set_defaults(func=_cmd_user_add)
    d = user.add_parser("disable", help="disable an account; open sessions end at once")
    d.add_argument("username")
    d.set_defaults(func=_cmd_user_disable)
    e = user.add_parser("enable", help="enable an account again with a new password")
    e.add_argument("username")
    e.add_argument("--password-stdin", action="store_true")
    e.set_defaults(func=_cmd_user_enable)
    p = user.add_parser("password", help="give an account a new password")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_cmd_user_password)
    ls = user.add_parser("list", help="list the accounts")
    ls.set_defaults(func=_cmd_user_list)

    token = sub.add_parser("token", help="partner API tokens").add_subparsers(dest="what", required=True)
    ta = token.add_parser("add", help="make a token for a partner's system (shown once)")
    ta.add_argument("partner_id")
    ta.add_argument("--name", default="", help="what the token is for, e.g. the partner's CRM")
    ta.set_defaults(func=_cmd_token_add)
    tr = token.add_parser("revoke", help="revoke a token at once")
    tr.add_argument("id", type=int)
    tr.set_defaults(func=_cmd_token_revoke)
    tl = token.add_parser("list", help="list the tokens (never the tokens themselves)")
    tl.set_defaults(func=_cmd_token_list)


def _cmd_console(args: argparse.Namespace) -> int:
    from .app import ConsoleConfigError, run
    insecure = os.environ.get("GIDS_CONSOLE_INSECURE_COOKIES", "") == "1"
    try:
        run(args.host, args.port, secure_cookies=not insecure)
    except ConsoleConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Wachtwoord: ")
    if getpass.getpass("Typ het wachtwoord nog een keer: ") != first:
        raise _Fail("De twee wachtwoorden zijn niet gelijk. Er is niets veranderd.")
    return first


class _Fail(Exception):
    pass


def _run(work) -> int:
    """Runs ``work(session)`` in one transaction; account errors are told plainly, exit code 1."""
    from bot.db import DatabaseUnavailable, database_errors, session_scope

    from .auth import AccountError
    try:
        with database_errors("the gids database"), session_scope() as session:
            work(session)
    except (AccountError, _Fail) as exc:
        print(exc, file=sys.stderr)
        return 1
    except DatabaseUnavailable as exc:
        print(f"De database is niet bereikbaar: {exc}", file=sys.stderr)
        return 4
    return 0


def _cmd_user_add(args: argparse.Namespace) -> int:
    from . import auth

    def work(session):
        # Check everything except the password first, so nobody types a password for nothing.
        probe = dict(role=args.role, region_code=args.region, partner_id=args.partner)
        auth.check_new_user(session, args.username, **probe)
        password = _read_password(args.password_stdin)
        user = auth.add_user(session, args.username, password, display_name=args.name, **probe)
        print(f"Gebruiker {user.username} is gemaakt ({user.role}).")
    return _run(work)


def _cmd_user_disable(args: argparse.Namespace) -> int:
    from . import auth

    def work(session):
        user = auth.disable_user(session, args.username)
        print(f"Gebruiker {user.username} is uitgezet. Open sessies zijn beëindigd.")
    return _run(work)


def _cmd_user_enable(args: argparse.Namespace) -> int:
    return _set_password(args, enable=True)


def _cmd_user_password(args: argparse.Namespace) -> int:
    return _set_password(args, enable=False)


def _set_password(args: argparse.Namespace, enable: bool) -> int:
    from . import auth

    def work(session):
        auth._user(session, args.username)  # an unknown name fails before the password prompt
        user = auth.set_password(session, args.username, _read_password(args.password_stdin), enable=enable)
        print(f"Gebruiker {user.username} {'staat weer aan' if enable else 'heeft een nieuw wachtwoord'}.")
    return _run(work)


def _cmd_user_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.db.models import StaffUser

    def work(session):
        users = session.execute(select(StaffUser).order_by(StaffUser.username)).scalars().all()
        if not users:
            print("Er zijn nog geen gebruikers. Maak er een met: gids user add NAAM --role admin")
            return
        print(f"{'gebruiker':24} {'rol':12} {'regio/partner':24} {'status':7} laatst ingelogd")
        for u in users:
            where = u.region_code or u.partner_id or "-"
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "nooit"
            print(f"{u.username:24} {u.role:12} {where:24} {'aan' if u.active else 'uit':7} {last}")
    return _run(work)


def _cmd_token_add(args: argparse.Namespace) -> int:
    from . import auth

    def work(session):
        row, token = auth.add_token(session, args.partner_id, args.name)
        print(f"Token {row.id} voor {row.partner_id} is gemaakt. Bewaar hem nu: je ziet hem maar één keer.",
              file=sys.stderr)
        print(token)
    return _run(work)


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    from . import auth

    def work(session):
        row = auth.revoke_token(session, args.id)
        print(f"Token {row.id} van {row.partner_id} is ingetrokken.")
    return _run(work)


def _cmd_token_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.db.models import ApiToken

    def work(session):
        rows = session.execute(select(ApiToken).order_by(ApiToken.id)).scalars().all()
        if not rows:
            print("Er zijn nog geen tokens.")
        for t in rows:
            state = f"ingetrokken {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "actief"
            print(f"{t.id:5}  {t.partner_id:28} {state:22} {t.name}")
    return _run(work)
