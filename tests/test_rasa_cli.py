"""Rasa's own checks, run the way the README says: data validation and the test stories."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).with_name("rasa"))


def run(*args, timeout=900):
    return subprocess.run([RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_rasa_data_validate_fail_on_warnings():
    result = run("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.model
def test_rasa_test_core_stories(model_path, tmp_path):
    result = run("test", "core", "--model", str(model_path), "--stories", "tests/stories",
                 "--fail-on-prediction-errors", "--out", str(tmp_path / "results"))
    failed = tmp_path / "results" / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, detail[-3000:] + result.stdout[-2000:] + result.stderr[-2000:]
    assert "Correct:" in result.stdout + result.stderr
