"""`gids user …`, `gids token …` and `gids console`, and the console's secret key."""
from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.cli import main
from bot.console import app as console_app
from bot.console import auth
from bot.db import session_scope
from bot.db.models import ApiToken, StaffUser
from tests.conftest import ROOT, free_port, wait_for_port

from .conftest import audit_rows


@pytest.fixture
def gids(db_url, monkeypatch, capsys):
    """Runs `gids ARGS` in-process against this test's database; returns (code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", db_url)

    def run(*argv, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def users(engine) -> dict:
    with session_scope(engine) as session:
        return {u.username: (u.role, u.region_code, u.partner_id, u.active, u.display_name)
                for u in session.execute(select(StaffUser)).scalars()}


def test_user_add_validates_and_stores_an_argon2_hash(gids, engine):
    pw = "een lang wachtwoord\n"
    assert gids("user", "add", "Anna", "--role", "admin", "--name", "Anna Jansen", "--password-stdin", stdin=pw)[0] == 0
    assert gids("user", "add", "wim", "--role", "werkcentrum", "--region", "AM01", "--password-stdin", stdin=pw)[0] == 0
    assert gids("user", "add", "pim", "--role", "partner", "--partner", "uwv", "--password-stdin", stdin=pw)[0] == 0
    assert users(engine) == {"anna": ("admin", None, None, True, "Anna Jansen"),
                             "wim": ("werkcentrum", "AM01", None, True, ""),
                             "pim": ("partner", None, "uwv", True, "")}
    with session_scope(engine) as session:
        stored = session.execute(select(StaffUser.password_hash).where(StaffUser.username == "anna")).scalar_one()
        assert stored.startswith("$argon2id$") and auth.hasher.verify(stored, "een lang wachtwoord")

    cases = [
        (("werkcentrum",), "heeft een regio nodig"),
        (("werkcentrum", "--region", "AM99"), "Regio 'AM99' bestaat niet"),
        (("partner",), "heeft een partner nodig"),
        (("partner", "--partner", "nope"), "Partner 'nope' bestaat niet"),
        (("admin", "--region", "AM01"), "Alleen de rol werkcentrum"),
        (("werkcentrum", "--region", "AM01", "--partner", "uwv"), "Alleen de rol partner"),
    ]
    for extra, message in cases:
        code, _, err = gids("user", "add", "kees", "--role", *extra, "--password-stdin", stdin=pw)
        assert code == 1 and message in err, (extra, err)
    code, _, err = gids("user", "add", "anna", "--role", "admin", "--password-stdin", stdin=pw)
    assert code == 1 and "bestaat al" in err
    code, _, err = gids("user", "add", "kees", "--role", "admin", "--password-stdin", stdin="kort\n")
    assert code == 1 and "minstens 12 tekens" in err
    code, _, err = gids("user", "add", "kees de vries", "--role", "admin", "--password-stdin", stdin=pw)
    assert code == 1 and "gebruikersnaam" in err.lower()
    assert set(users(engine)) == {"anna", "wim", "pim"}


def test_user_add_asks_for_the_password_twice(gids, engine, monkeypatch):
    import getpass
    answers = iter(["een lang wachtwoord", "een ander wachtwoord", "een lang wachtwoord", "een lang wachtwoord"])
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))
    code, _, err = gids("user", "add", "anna", "--role", "admin")
    assert code == 1 and "niet gelijk" in err and "anna" not in users(engine)
    assert gids("user", "add", "anna", "--role", "admin")[0] == 0
    assert prompts == ["Wachtwoord: ", "Typ het wachtwoord nog een keer: "] * 2
    # A wrong region is reported before anyone types a password.
    prompts.clear()
    code, _, err = gids("user", "add", "wim", "--role", "werkcentrum", "--region", "AM99")
    assert code == 1 and prompts == []


def test_user_disable_enable_and_list(gids, engine):
    pw = "een lang wachtwoord\n"
    gids("user", "add", "anna", "--role", "admin", "--password-stdin", stdin=pw)
    gids("user", "add", "wim", "--role", "werkcentrum", "--region", "AM01", "--password-stdin", stdin=pw)
    code, out, _ = gids("user", "disable", "WIM")
    assert code == 0 and "wim is uitgezet" in out
    assert users(engine)["wim"][3] is False
    code, out, _ = gids("user", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert " aan " in lines["anna"] and " uit " in lines["wim"] and "AM01" in lines["wim"] and "nooit" in lines["wim"]
    assert "$argon2" not in out
    code, _, err = gids("user", "disable", "nobody")
    assert code == 1 and "bestaat niet" in err
    assert gids("user", "enable", "wim", "--password-stdin", stdin="nog een lang wachtwoord\n")[0] == 0
    assert users(engine)["wim"][3] is True
    assert gids("user", "password", "anna", "--password-stdin", stdin="kort\n")[0] == 1
    actions = [e["action"] for e in audit_rows(engine) if e["action"].startswith("user_")]
    assert actions == ["user_add", "user_add", "user_disable", "user_enable"]


def test_user_list_when_empty(gids):
    code, out, _ = gids("user", "list")
    assert code == 0 and "nog geen gebruikers" in out


def test_tokens_are_shown_once_and_stored_as_sha256(gids, engine):
    code, out, err = gids("token", "add", "uwv", "--name", "CRM van UWV")
    token = out.strip()
    assert code == 0 and token.startswith("gids_") and len(token) > 40 and "\n" not in token
    assert "maar één keer" in err
    with session_scope(engine) as session:
        row = session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.name == "CRM van UWV"
        assert auth.partner_for_token(session, token) == "uwv"
    code, out, _ = gids("token", "list")
    assert "uwv" in out and "actief" in out and token not in out
    code, out, _ = gids("token", "revoke", str(row.id))
    assert code == 0 and "ingetrokken" in out
    with session_scope(engine) as session:
        assert auth.partner_for_token(session, token) is None
    assert gids("token", "revoke", "999")[0] == 1
    code, _, err = gids("token", "add", "nope")
    assert code == 1 and "bestaat niet" in err
    assert [e["action"] for e in audit_rows(engine) if e["action"].startswith("token_")] == ["token_add", "token_revoke"]
    assert not [e for e in audit_rows(engine) if token in (e["detail"] or "")]


def test_secret_is_made_once_with_mode_0600(tmp_path):
    path = tmp_path / "var" / "console-secret"
    key = console_app.load_secret(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert console_app.load_secret(path, environ={}) == key
    Fernet(key)
    os.chmod(path, 0o644)
    console_app.load_secret(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    from_env = Fernet.generate_key()
    assert console_app.load_secret(path, environ={"GIDS_CONSOLE_SECRET": from_env.decode()}) == from_env
    with pytest.raises(console_app.ConsoleConfigError, match="GIDS_CONSOLE_SECRET is geen geldige sleutel"):
        console_app.load_secret(path, environ={"GIDS_CONSOLE_SECRET": "too-short"})
    path.write_text("garbage\n")
    with pytest.raises(console_app.ConsoleConfigError, match="geen geldige sleutel"):
        console_app.load_secret(path, environ={})


@pytest.mark.parametrize("insecure", ["", "1"])
def test_gids_console_serves_the_app(db_url, insecure):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "GIDS_CONSOLE_SECRET": Fernet.generate_key().decode(),
           "GIDS_CONSOLE_INSECURE_COOKIES": insecure}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "console", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, 60, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as resp:
            assert resp.status == 200
            assert "Inloggen" in resp.read().decode()
            cookie = resp.headers["Set-Cookie"]
            assert ("Secure" in cookie) == (insecure != "1") and "HttpOnly" in cookie
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert f"De console draait op http://127.0.0.1:{port}/" in output


def test_gids_console_believes_the_proxies_of_gids_trusted_proxies(db_url, engine):
    """`gids console` reads GIDS_TRUSTED_PROXIES: from a trusted proxy (here the test itself, on
    127.0.0.1) the audit log keeps the client address of X-Forwarded-For; a wrong value stops it."""
    with session_scope(engine) as session:
        _, token = auth.add_token(session, "uwv", "crm")
    for proxies, expected in (("10.9.9.9, 127.0.0.1", "203.0.113.7"), ("", "127.0.0.1")):
        port = free_port()
        env = {**os.environ, "DATABASE_URL": db_url, "GIDS_CONSOLE_SECRET": Fernet.generate_key().decode(),
               "GIDS_TRUSTED_PROXIES": proxies}
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "console", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(port, 60, proc)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/handovers/WC-2026-1234567890",
                headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.7"})
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=10)
            assert answer.value.code == 404
        finally:
            proc.terminate()
            output = proc.communicate(timeout=20)[0]
        assert ("GIDS_TRUSTED_PROXIES is not set" in output) == (not proxies)
        assert audit_rows(engine, action="not_found")[-1]["ip"] == expected, proxies

    env = {**os.environ, "DATABASE_URL": db_url, "GIDS_CONSOLE_SECRET": Fernet.generate_key().decode(),
           "GIDS_TRUSTED_PROXIES": "10.0.0.0/33"}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "console", "--port", str(free_port())], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "GIDS_TRUSTED_PROXIES: '10.0.0.0/33'" in proc.stderr


def test_bot_console_make_app_is_the_apps_make_app(engine):
    """``bot.console.make_app`` takes every setting of ``bot.console.app.make_app``, trusted proxies too."""
    from bot.console import make_app
    from bot.console.common import TRUSTED

    assert make_app is console_app.make_app
    app = make_app(engine, secret=Fernet.generate_key(), trusted_proxies="10.0.0.0/8, 192.0.2.1")
    assert [str(network) for network in app[TRUSTED]] == ["10.0.0.0/8", "192.0.2.1/32"]


def test_gids_console_with_a_bad_secret_says_so(db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "GIDS_CONSOLE_SECRET": "nope"}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "console", "--port", str(free_port())], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "geen geldige sleutel" in proc.stderr
