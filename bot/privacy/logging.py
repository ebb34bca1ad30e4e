"""Log records without personal data.

Two ways in, because a filter only works for the handlers it is attached to, and Rasa adds
handlers after reading a logging config (``--log-file``, syslog; coloredlogs does keep the
console handler's filters):

- ``install_redacting_filter()`` wraps the log record factory, so every record of every logger
  is redacted when it is made, whatever handlers exist now or later. The action server calls it
  from actions/__init__.py; RedactingSQLTrackerStore calls it in the Rasa server.
- ``RedactingFilter`` is a logging.Filter for a logging config (config/logging.yml, for
  ``rasa run --logging-config-file`` and ``rasa run actions --logging-config-file``); with
  ``install: true`` it installs the record factory as well.

A record's message (with its arguments), its exception text, stack text and extra string
attributes (sanic's access log puts the request line there) are redacted. If redaction itself
fails the message is withheld rather than logged unredacted.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from bot.privacy import redact

WITHHELD = "[log message withheld: it could not be redacted]"
_MARK = "_gids_redacted"
# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", (), None))) | {
    "message", "asctime", _MARK}


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redacts the record in place (its message once) and returns it. Extra attributes are
    redacted every time: the record factory runs before makeRecord adds ``extra=`` fields, so a
    filter must still look at them."""
    if getattr(record, _MARK, False):
        _redact_extras(record)
        return record
    try:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: logging would print msg and args raw
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(str(message))
        record.args = ()
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            # Formatters print exc_text when it is set; without exc_info none formats the raw
            # exception (with its message) again.
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        _redact_extras(record)
    except Exception:
        record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, (), None, None
    setattr(record, _MARK, True)
    return record


def _redact_extras(record: logging.LogRecord) -> None:
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and isinstance(value, str):
            try:
                setattr(record, key, redact(value))
            except Exception:
                setattr(record, key, WITHHELD)


class RedactingFilter(logging.Filter):
    """Redacts every record that passes it; lets all of them through."""

    def __init__(self, name: str = "", install: bool = False) -> None:
        super().__init__(name)
        if install:
            install_redacting_filter()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _is_ours(factory: Callable[..., Any]) -> bool:
    return getattr(factory, _MARK, False)


def install_redacting_filter() -> None:
    """Redact every log record of this process from now on. Safe to call more than once."""
    current = logging.getLogRecordFactory()
    if _is_ours(current):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    setattr(factory, _MARK, True)
    factory.previous = current  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def uninstall_redacting_filter() -> None:
    """Undo install_redacting_filter() (for tests that must leave logging as they found it)."""
    current = logging.getLogRecordFactory()
    if _is_ours(current):
        logging.setLogRecordFactory(current.previous)  # type: ignore[attr-defined]
