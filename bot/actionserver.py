"""The action server: rasa-sdk 3.21 on the maintained runtime, serving the actions in ``actions/``
to the core only. ``gids actions`` runs it.

rasa-sdk has no authentication of its own, and whoever can call ``/webhook`` can hand it a forged
tracker (and so create handovers that go out to partners). Here every call but ``/health`` needs
``Authorization: Bearer <GIDS_ACTION_TOKEN>`` (endpoints.yml sends it), and the server listens on
127.0.0.1 unless told otherwise (an internal network in docker-compose)."""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional

from bot.tokens import ACTION_TOKEN, bearer_ok, shared_secret

logger = logging.getLogger(__name__)


def make_app(token: str, package: str = "actions"):
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.executor import ActionExecutor
    from sanic import response

    if not token:
        raise ValueError(f"{ACTION_TOKEN} is empty: the action server would be open to anyone")
    executor = ActionExecutor()
    executor.register_package(package)
    app = create_app(executor, cors_origins=[])  # only the core calls it; browsers never

    @app.on_request
    async def authenticate(request):
        if request.path == "/health":
            return None
        if not bearer_ok(token, request.headers.get("Authorization")):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return app


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="gids actions", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from bot.privacy.logging import install_redacting_filter

    install_redacting_filter()
    app = make_app(shared_secret(ACTION_TOKEN))
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0
