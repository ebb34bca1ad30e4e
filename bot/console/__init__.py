"""The staff console (aiohttp + jinja2) and the partner JSON API. ``gids console`` serves it."""
from __future__ import annotations


def make_app(engine=None, *, secret=None, secure_cookies=True):
    from .app import make_app as _make_app
    return _make_app(engine, secret=secret, secure_cookies=secure_cookies)
