"""Fixtures for the web chat tests: a scripted gids, the demo server, a headless Chromium."""
from __future__ import annotations

import pytest

from bot.channels.webchat.server import WebchatConfig, create_app
from tests.webchat.support import BackgroundApp, FakeGids, make_driver


@pytest.fixture
def fake_gids():
    fake = FakeGids()
    yield fake
    fake.close()


@pytest.fixture
def demo_factory():
    """demo_factory(rasa_url, **config) → URL of a running demo server with that config."""
    servers = []

    def make(rasa_url: str, **config) -> str:
        server = BackgroundApp(lambda: create_app(WebchatConfig(rasa_url=rasa_url, **config))).start()
        servers.append(server)
        return server.url + "/"
    yield make
    for server in servers:
        server.close()


@pytest.fixture
def demo(fake_gids, demo_factory) -> str:
    return demo_factory(fake_gids.url)


@pytest.fixture
def driver():
    d = make_driver()
    yield d
    d.quit()
