"""``gids gateway`` and ``gids actions``: the two servers of the maintained runtime that sit
around the core."""
from __future__ import annotations

import argparse


def _cmd_gateway(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from bot.gateway.app import make_app
    from bot.privacy.logging import install_redacting_filter

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_redacting_filter()
    # No access log: request lines of the REST endpoint are harmless, but a quiet log is a safe log.
    web.run_app(make_app(), host=args.host, port=args.port, access_log=None, print=None)
    return 0


def _cmd_actions(args: argparse.Namespace) -> int:
    from bot.actionserver import main
    return main(["--host", args.host, "--port", str(args.port)])


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gateway", help="the gateway: web chat, WhatsApp and REST in front of the core")
    g.add_argument("--host", default="127.0.0.1", help="0.0.0.0 only behind a reverse proxy or in a container")
    g.add_argument("--port", type=int, default=5005)
    g.set_defaults(func=_cmd_gateway)
    a = sub.add_parser("actions", help="the action server (rasa-sdk), for the core only")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, default=5055)
    a.set_defaults(func=_cmd_actions)
