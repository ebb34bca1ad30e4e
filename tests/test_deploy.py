"""Deployment files and the set-up script."""
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent


def compose_config(env):
    exe = require_tool("docker-compose")
    return subprocess.run([exe, "config"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_docker_compose_file_is_valid():
    result = compose_config({"POSTGRES_PASSWORD": "secret", "GIDS_CONSOLE_SECRET": "key"})
    assert result.returncode == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert set(cfg["services"]) == {"rasa", "actions", "migrate", "worker", "console", "webchat", "postgres", "redis"}
    for service in ("rasa", "actions", "worker", "console"):
        assert cfg["services"][service]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert cfg["services"]["rasa"]["environment"]["DATABASE_URL"] == cfg["services"]["actions"]["environment"]["DATABASE_URL"]
    worker = cfg["services"]["worker"]
    assert worker["entrypoint"][-1] == "worker" and worker["environment"]["GIDS_TRACKER_URL"].startswith("postgresql://")
    assert cfg["services"]["console"]["entrypoint"][2:4] == ["bot.cli", "console"]
    for service in ("rasa", "actions"):
        dockerfile = ROOT / cfg["services"][service]["build"]["dockerfile"]
        assert dockerfile.exists()
    assert "FROM rasa/rasa:3.6.21" in (ROOT / "docker/rasa.Dockerfile").read_text()
    assert "FROM rasa/rasa-sdk:3.6.2" in (ROOT / "docker/actions.Dockerfile").read_text()


@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "GIDS_CONSOLE_SECRET"])
def test_docker_compose_refuses_to_run_without_its_secrets(missing):
    env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_PASSWORD", "GIDS_CONSOLE_SECRET")}
    env.update({"POSTGRES_PASSWORD": "secret", "GIDS_CONSOLE_SECRET": "key"})
    del env[missing]
    exe = require_tool("docker-compose")
    result = subprocess.run([exe, "config"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert missing in result.stderr


def test_setup_finds_python_310_or_says_clearly_that_it_is_missing(tmp_path):
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(empty_home), "PYENV_ROOT": str(tmp_path / "nopyenv")}
    result = subprocess.run(["bash", str(ROOT / "setup.sh"), "--find-python"], capture_output=True,
                            text=True, env=env, timeout=60)
    found = Path("/usr/bin/python3.10").exists()
    if found:
        assert result.returncode == 0 and result.stdout.strip().endswith("python3.10")
    else:
        assert result.returncode == 1
        assert "Python 3.10 was not found" in result.stderr


def test_setup_uses_pyenv_when_python_310_is_not_on_path(tmp_path):
    fake = tmp_path / "pyenv" / "versions" / "3.10.99" / "bin"
    fake.mkdir(parents=True)
    real = subprocess.run(["bash", str(ROOT / "setup.sh"), "--find-python"], capture_output=True,
                          text=True, timeout=60).stdout.strip()
    assert real, "this machine has Python 3.10 (the venv was made with it)"
    (fake / "python3.10").symlink_to(real)
    env = {"PATH": "/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    result = subprocess.run(["bash", str(ROOT / "setup.sh"), "--find-python"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(fake / "python3.10")


def test_docker_images_pin_the_versions_of_the_lock_file():
    import re
    lock = dict(re.findall(r"^([a-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.M))
    for dockerfile in ("docker/rasa.Dockerfile", "docker/actions.Dockerfile"):
        pins = re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', (ROOT / dockerfile).read_text())
        assert pins, dockerfile
        for name, version in pins:
            assert lock.get(name.lower()) == version, f"{dockerfile}: {name}=={version}, lock has {lock.get(name.lower())}"
