"""Runs each service's alembic history against its database (`depot migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(service: str, database_url: str) -> Config:
    """The alembic configuration of one service's history (script folder, URL)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS / service))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))  # configparser escaping
    return config


def available_services() -> list[str]:
    """The services that have a migration history, in a stable order."""
    return sorted(p.parent.name for p in MIGRATIONS.glob("*/env.py"))


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Migrates one service's schema up to `revision`."""
    command.upgrade(alembic_config(service, database_url), revision)
