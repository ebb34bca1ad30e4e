"""Redacting logs: the filter, the process-wide installation, config/logging.yml with Rasa's own
start-up sequence, and the real action server started with that file."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from bot.privacy.logging import (WITHHELD, RedactingFilter, install_redacting_filter, redact_record,
                                 uninstall_redacting_filter)
from tests.conftest import ACTION_TOKEN, ROOT, SVC_BIN, free_port, wait_for_port

LOGGING_YML = ROOT / "config" / "logging.yml"


@pytest.fixture
def logger_with_buffer():
    """A logger of its own that writes to a buffer (no propagation to pytest's handlers)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"tests.privacy.{id(buffer)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, handler, buffer
    logger.removeHandler(handler)


def test_the_filter_redacts_message_and_arguments(logger_with_buffer):
    logger, handler, buffer = logger_with_buffer
    handler.addFilter(RedactingFilter())
    logger.info("user %s wrote: %r", "conv-1", "mijn bsn is 123456782, bel 06-12345678")
    logger.warning("mail naar jan@example.nl, IBAN NL91ABNA0417164300, 50% klaar")
    assert buffer.getvalue().splitlines() == [
        "INFO user conv-1 wrote: 'mijn bsn is [BSN], bel [telefoonnummer]'",
        "WARNING mail naar [e-mailadres], IBAN [IBAN], 50% klaar",
    ]


def test_the_filter_redacts_exceptions_and_extra_fields(logger_with_buffer):
    logger, handler, buffer = logger_with_buffer
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s [%(request)s]"))
    try:
        raise ValueError("bad contact value '06-12345678'")
    except ValueError:
        logger.exception("handover failed", extra={"request": "GET /conversations/31612345678/tracker"})
    out = buffer.getvalue()
    assert "handover failed [GET /conversations/[telefoonnummer]/tracker]" in out
    assert "ValueError: bad contact value '[telefoonnummer]'" in out  # the traceback is still there
    assert "12345678" not in out


def test_bad_format_arguments_do_not_leak(logger_with_buffer):
    logger, handler, buffer = logger_with_buffer
    handler.addFilter(RedactingFilter())
    logger.info("two %s %s but one", "bsn 123456782")
    assert "123456782" not in buffer.getvalue() and "[BSN]" in buffer.getvalue()


def test_a_record_is_redacted_once():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "[BSN] %s", ("123456782",), None)
    redact_record(record)
    redact_record(record)
    assert record.getMessage() == "[BSN] [BSN]"


def test_installed_factory_covers_handlers_added_later(logger_with_buffer):
    logger, handler, buffer = logger_with_buffer   # no filter on this handler
    install_redacting_filter()
    install_redacting_filter()  # twice is once
    try:
        late = io.StringIO()
        late_handler = logging.StreamHandler(late)
        logger.addHandler(late_handler)  # like coloredlogs replacing Rasa's console handler
        logger.info("Received user message 'ik woon op Dorpsstraat 12, mail a@b.nl'")
        logger.removeHandler(late_handler)
    finally:
        uninstall_redacting_filter()
    assert late.getvalue().strip() == "Received user message 'ik woon op [adres], mail [e-mailadres]'"
    assert "INFO Received user message 'ik woon op [adres]" in buffer.getvalue()
    logger.info("na afloop: 06-12345678")
    assert buffer.getvalue().splitlines()[-1] == "INFO na afloop: 06-12345678"  # uninstalled


RASA_START = """
import logging, sys
import rasa.core.utils, rasa.utils.common, rasa.utils.io
# The order of rasa/__main__.py and rasa/core/run.py: the logging config file, then coloredlogs
# (which keeps the console handler's filters), then `--log-file` adds a handler without them.
rasa.utils.common.configure_logging_and_warnings(None, sys.argv[1], warn_only_once=True,
                                                 filter_repeated_logs=True)
rasa.utils.io.configure_colored_logging("INFO")
rasa.core.utils.configure_file_logging(logging.getLogger("rasa"), sys.argv[2], False)
logging.getLogger("rasa.core.processor").info("Received user message 'bsn 123456782, bel 06-12345678'")
logging.getLogger("sanic.root").warning("mail jan@example.nl")
"""


def test_logging_yml_redacts_the_rasa_servers_console_and_log_file(tmp_path):
    log_file = tmp_path / "rasa.log"
    result = subprocess.run([sys.executable, "-c", RASA_START, str(LOGGING_YML), str(log_file)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LOG_LEVEL": "INFO"})
    assert result.returncode == 0, result.stderr[-2000:]
    console, file_log = result.stderr, log_file.read_text()
    assert "Received user message 'bsn [BSN], bel [telefoonnummer]'" in console
    assert "mail [e-mailadres]" in console
    assert "Received user message 'bsn [BSN], bel [telefoonnummer]'" in file_log
    for log in (console, file_log):
        assert "123456782" not in log and "06-12345678" not in log and "jan@example.nl" not in log


def test_the_action_server_logs_redacted(tmp_path):
    port = free_port()
    log_path = tmp_path / "actions.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(SVC_BIN / "gids"), "actions", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'gids.db'}",
                                     "GIDS_ACTION_TOKEN": ACTION_TOKEN})
        try:
            wait_for_port(port, 180, proc)
            # rasa_sdk logs the name of an action it does not know: input from the caller.
            body = json.dumps({"next_action": "bsn 123456782 bel 06-12345678", "tracker": {}}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body,
                                             headers={"Content-Type": "application/json",
                                                      "Authorization": f"Bearer {ACTION_TOKEN}"})
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=30)
            assert answer.value.code == 404
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert "No registered action found for name 'bsn [BSN] bel [telefoonnummer]'" in text
    assert "123456782" not in text and "06-12345678" not in text


def test_a_message_that_cannot_be_redacted_is_withheld(logger_with_buffer):
    logger, handler, buffer = logger_with_buffer
    handler.addFilter(RedactingFilter())

    class Unprintable:
        def __str__(self):
            raise RuntimeError("06-12345678")

    logger.error(Unprintable())
    assert buffer.getvalue().strip() == f"ERROR {WITHHELD}"
