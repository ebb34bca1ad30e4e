"""The gids database: SQLAlchemy 1.4 with the 2.0-style API (``future=True``).

SQLite file var/gids.db by default; PostgreSQL (or anything SQLAlchemy speaks) through
DATABASE_URL. The schema is owned by the Alembic migrations in bot/db/migrations."""
from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult, Result

from bot import config

DEFAULT_URL = f"sqlite:///{config.ROOT / 'var' / 'gids.db'}"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; callers tell the person and try again later."""


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turns a database failure in the block into ``DatabaseUnavailable("<what>: <reason>")``:
    the one place that decides what counts as the database being unavailable. That is every error
    the database driver reports (SQLAlchemy's DBAPIError: no connection, a lost connection, a
    locked or missing table, a timeout) and an exhausted connection pool, but not IntegrityError
    (a unique key or constraint the caller decides about; it is raised as it is) and not
    SQLAlchemy's own usage errors (bugs). Also a decorator: ``database_errors("...")(fn)``.

    The message never holds statement parameters (a transcript line, a phone number), and the
    original exception is not chained for the same reason."""
    try:
        yield
    except IntegrityError:
        raise
    except (DBAPIError, PoolTimeout) as exc:
        raise DatabaseUnavailable(f"{what}: {error_reason(exc)}") from None


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE through ``Session.execute`` matched. (It returns a
    CursorResult, which has ``rowcount``; SQLAlchemy types it as the general Result.)"""
    return cast("CursorResult[Any]", result).rowcount


def error_reason(exc: BaseException) -> str:
    """A log-safe reason for a database error: the first line of the driver's message when the
    connection failed (it names the host or file, never data), otherwise only the error's type
    (a driver's message about data can quote a value)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        lines = str(exc.orig if exc.orig is not None else "").strip().splitlines()
        if lines:
            return lines[0]
    return type(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc).__name__


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def make_engine(url: Optional[str] = None) -> Engine:
    url = url or database_url()
    # hide_parameters: an SQL error must not put a transcript line or a phone number in a log.
    kwargs: Dict[str, Any] = {"future": True, "pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):  # foreign keys are off by default in SQLite
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return engine


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(database_url())


@contextmanager
def session_scope(engine: Optional[Engine] = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    factory = sessionmaker(bind=engine or get_engine(), future=True, expire_on_commit=False)
    with factory() as session:
        with session.begin():
            yield session
