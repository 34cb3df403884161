"""Schema migrations (Alembic), applied by `Store.open` on SQLite and PostgreSQL alike."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def config_for(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(connection) -> None:
    """Bring the schema on this (sync) connection to the newest revision."""
    command.upgrade(config_for(connection), "head")
