"""The routing tests use the shared database fixtures of tests/conftest.py: every test that takes
``engine`` or ``db_url`` runs on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres)."""
from tests.conftest import drop_database as _drop, new_database as _new_database  # noqa: F401
