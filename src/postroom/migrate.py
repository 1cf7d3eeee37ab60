"""Run Alembic from code: ``postroom db upgrade`` and the drift check in ``make test``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return config


def upgrade(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema."""
    command.upgrade(alembic_config(database_url), "head")


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree."""
    command.check(alembic_config(database_url))


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new migration (developers only)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
