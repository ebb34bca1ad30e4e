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


SECRETS = {"POSTGRES_PASSWORD": "secret", "GIDS_CONSOLE_SECRET": "key", "GIDS_CORE_TOKEN": "core",
           "GIDS_ACTION_TOKEN": "actions", "GIDS_GATEWAY_SECRET": "gateway"}


def test_docker_compose_file_is_valid():
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    services = cfg["services"]
    assert set(services) == {"core", "core-2", "gateway", "actions", "migrate", "worker", "console", "webchat",
                             "postgres", "redis"}
    # The two core replicas are the same service twice; the gateway knows both.
    assert services["core-2"] == services["core"]
    for service in ("core", "core-2", "gateway", "actions", "worker", "console"):
        assert services[service]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    worker = services["worker"]
    assert worker["command"] == ["worker"] and worker["environment"]["GIDS_TRACKER_URL"].startswith("postgresql://")
    assert services["console"]["command"][:1] == ["console"]
    assert (ROOT / services["core"]["build"]["dockerfile"]).exists()
    assert (ROOT / services["gateway"]["build"]["dockerfile"]).exists()
    assert "FROM rasa/rasa:3.6.21" in (ROOT / "docker/core.Dockerfile").read_text()
    assert "--require-hashes -r /tmp/requirements-svc.lock" in (ROOT / "docker/svc.Dockerfile").read_text()
    # The maintained runtime's services all run the one image built from the svc lock.
    for service in ("gateway", "actions", "migrate", "worker", "console", "webchat"):
        assert services[service]["image"] == "werkcentrum-gids/svc:latest", service


def test_only_the_gateway_console_and_widget_are_published():
    cfg = yaml.safe_load(compose_config(SECRETS).stdout)
    services = cfg["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"gateway", "console", "webchat"}
    # The core, the action server and the stores are on the internal network only, which has no
    # way out; the core has no HTTP API (no --enable-api) and needs the gateway's token.
    assert cfg["networks"]["internal"]["internal"] is True
    for name in ("core", "core-2", "actions", "postgres", "redis"):
        assert set(services[name]["networks"]) == {"internal"}, name
    core_cmd = (ROOT / "docker/core.Dockerfile").read_text()
    assert "--enable-api" not in core_cmd and "--cors" not in core_cmd
    assert services["core"]["environment"]["GIDS_CORE_TOKEN"] == services["gateway"]["environment"]["GIDS_CORE_TOKEN"]
    assert services["core"]["environment"]["GIDS_ACTION_TOKEN"] == services["actions"]["environment"]["GIDS_ACTION_TOKEN"]
    assert services["gateway"]["environment"]["GIDS_CORE_URL"] == "http://core:5005,http://core-2:5005"


def _health_url(service) -> str:
    import re
    test = service["healthcheck"]["test"]
    found = re.search(r"urlopen\('(http://127\.0\.0\.1:\d+/[^']*)'", " ".join(test))
    assert found, test
    return found.group(1)


def test_every_long_running_service_has_a_health_check_and_a_restart_policy():
    services = yaml.safe_load(compose_config(SECRETS).stdout)["services"]
    for name, service in services.items():
        if name == "migrate":  # runs once
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        assert service["healthcheck"]["retries"] >= 3, name
    # Each process's own health endpoint, on the port its command serves.
    assert _health_url(services["gateway"]) == "http://127.0.0.1:5005/health"
    assert services["gateway"]["command"][-1] == "5005"
    assert _health_url(services["actions"]) == "http://127.0.0.1:5055/health"  # rasa-sdk's
    assert services["actions"]["command"][-1] == "5055"
    assert _health_url(services["console"]) == "http://127.0.0.1:8080/health"
    assert services["console"]["command"][-1] == "8080"
    assert _health_url(services["webchat"]) == "http://127.0.0.1:8000/healthz"
    assert _health_url(services["core"]) == "http://127.0.0.1:5005/webhooks/gateway/"
    assert services["core"]["healthcheck"]["start_period"]  # the model takes a while to load
    # The worker has no server of its own unless GIDS_WORKER_METRICS_PORT is set: compose sets it,
    # on loopback, and checks that port.
    worker = services["worker"]["environment"]
    assert _health_url(services["worker"]) == f"http://127.0.0.1:{worker['GIDS_WORKER_METRICS_PORT']}/health"
    assert worker["GIDS_WORKER_METRICS_HOST"] == "127.0.0.1"
    # /metrics: loopback only unless the operator says otherwise.
    for name in ("gateway", "worker"):
        assert services[name]["environment"]["GIDS_METRICS_ALLOW"] == "", name
    # The cores wait for healthy stores.
    assert services["core"]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_docker_compose_refuses_to_run_without_its_secrets(missing):
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(SECRETS)
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


def test_the_core_image_pins_the_versions_of_the_core_lock_file():
    import re
    lock = dict(re.findall(r"^([a-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.M))
    pins = re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', (ROOT / "docker/core.Dockerfile").read_text())
    assert pins
    for name, version in pins:
        assert lock.get(name.lower()) == version, f"core.Dockerfile: {name}=={version}, lock has {lock.get(name.lower())}"


def test_the_lock_audit_fails_on_a_package_below_its_floor(tmp_path):
    import sys
    audit = [sys.executable, str(ROOT / "scripts" / "audit_lock.py")]
    ok = subprocess.run(audit, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout
    old = tmp_path / "old.lock"
    old.write_text((ROOT / "requirements-svc.lock").read_text().replace("\naiohttp==3.14.5", "\naiohttp==3.9.5"))
    bad = subprocess.run(audit + [str(old)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "VULNERABLE: aiohttp 3.9.5 is below 3.13.3" in bad.stdout


def test_setup_finds_a_maintained_python():
    result = subprocess.run(["bash", str(ROOT / "setup.sh"), "--find-python-svc"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([result.stdout.strip(), "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == "True"
