"""The staff console (aiohttp + jinja2) and the partner JSON API. ``gids console`` serves it.

``make_app`` (bot.console.app.make_app) is loaded when it is first asked for: `gids` imports
bot.console.cli for every command, and the app pulls in aiohttp, jinja2 and the database code."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import make_app as make_app

__all__ = ["make_app"]


def __getattr__(name: str) -> Any:
    if name == "make_app":
        from .app import make_app
        return make_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
