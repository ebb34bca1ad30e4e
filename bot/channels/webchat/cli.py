"""`gids` subcommands of bot.channels.webchat (registered by bot/cli.py)."""
from __future__ import annotations

import argparse
import logging
import sys


def _cmd_webchat(args: argparse.Namespace) -> int:
    from bot.channels.webchat.server import ConfigError, config_from_env, run
    try:
        config = config_from_env(args.rasa_url)
    except ConfigError as exc:
        print(f"gids webchat: {exc}", file=sys.stderr)
        return 2
    # INFO shows the access log (paths and status codes only, see server.ACCESS_LOG_FORMAT).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(config, host=args.host, port=args.port)
    return 0


def register(sub: "argparse._SubParsersAction") -> None:
    w = sub.add_parser(
        "webchat", help="serve the web chat widget and a demo page with it",
        description="Serves /widget.js, /widget.css, /vendor/... and a demo Werkcentrum page (/). "
                    "Name and colours: GIDS_WEBCHAT_NAME, GIDS_WEBCHAT_COLOR, GIDS_WEBCHAT_ACCENT.")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=8000)
    w.add_argument("--rasa-url", help="the Rasa server the widget connects to "
                                      "(default: GIDS_RASA_URL or http://localhost:5005)")
    w.set_defaults(func=_cmd_webchat)
