"""The Alembic migrations build exactly the schema of bot/db/models.py, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.db import make_engine, migrate
from bot.db.models import metadata
from tests.routing.conftest import _drop, _new_database

import pytest


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_match_the_models_and_go_down_again(kind, tmp_path_factory):
    url, cleanup = _new_database(kind, tmp_path_factory)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
        assert diff == []
        assert {"gemeente", "partner", "service", "alembic_version"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
    finally:
        _drop(cleanup)
