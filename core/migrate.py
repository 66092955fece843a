"""Applying Alembic migrations programmatically (``patchbay db upgrade``)."""

from __future__ import annotations

from pathlib import Path

import anyio
from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and ``database_url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Create or upgrade the schema (blocking; do not call from an event loop thread)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "heads") -> None:
    """``upgrade`` from async code: runs Alembic in a worker thread."""
    await anyio.to_thread.run_sync(upgrade, database_url, revision)
