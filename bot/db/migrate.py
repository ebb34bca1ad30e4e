"""Run the Alembic migrations from code (``gids db upgrade``), without an alembic.ini."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config

from bot.db import database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: Optional[str] = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: Optional[str] = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
