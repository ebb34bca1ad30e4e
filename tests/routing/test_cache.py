"""The routing table cache: after the first load nobody waits for a reload."""
import threading
import time

import pytest

from bot.routing.cache import RefreshingCache


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_first_load_waits_then_serves_from_memory():
    calls = []
    cache = RefreshingCache(ttl=60)
    assert cache.get("k", lambda: calls.append(1) or "v1") == "v1"
    assert cache.get("k", lambda: calls.append(1) or "v2") == "v1"
    assert calls == [1]


def test_a_stale_value_is_served_while_one_thread_reloads():
    cache = RefreshingCache(ttl=60)
    cache.get("k", lambda: "old")
    release, started, loads = threading.Event(), threading.Event(), []

    def slow_load():
        loads.append(1)
        started.set()
        release.wait(5)
        return "new"

    assert cache.get("k", slow_load, max_age=0) == "old"      # no waiting for the reload
    started.wait(5)
    assert cache.get("k", slow_load, max_age=0) == "old"      # still old, and no second reload
    release.set()
    wait_until(lambda: cache.get("k", slow_load) == "new")
    assert loads == [1]


def test_a_failing_reload_keeps_the_old_value():
    cache = RefreshingCache(ttl=60)
    cache.get("k", lambda: "old")

    def broken():
        raise RuntimeError("database down")

    assert cache.get("k", broken, max_age=0) == "old"
    wait_until(lambda: not cache._reloading)
    assert cache.get("k", lambda: "unused") == "old"


def test_the_first_load_fails_loudly():
    cache = RefreshingCache(ttl=60)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("down")))


def test_clear_voids_a_reload_that_started_before_it():
    cache = RefreshingCache(ttl=60)
    cache.get("k", lambda: "before import")
    release = threading.Event()

    def slow_old_load():
        release.wait(5)
        return "stale table"

    cache.get("k", slow_old_load, max_age=0)
    cache.clear()                     # an administrator's import in this process
    assert cache.get("k", lambda: "after import") == "after import"
    release.set()
    wait_until(lambda: not cache._reloading)
    assert cache.get("k", lambda: "unused") == "after import"
