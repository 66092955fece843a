"""Alembic environment: async engine for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from core.config import Settings
from core.db import create_engine

config = context.config


def _metadata() -> sa.MetaData:
    """Every table: the kernel's and those of the composition root's domains (needed to
    autogenerate a migration; applying migrations does not read it)."""
    importlib.import_module(config.attributes.get("domains_module", "patchbay.domains"))
    return SQLModel.metadata


target_metadata = _metadata()


def _url() -> str:
    return config.attributes.get("database_url") or Settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our JSON variant as ``core.db.JSONType`` in generated migrations."""
    if type_ == "type" and isinstance(obj, sa.JSON) and getattr(obj, "_variant_mapping", None):
        return "core.db.JSONType"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    """SQLite migrations run with foreign keys off (a table rebuild drops and re-creates
    referenced tables); before the commit, every reference must still hold."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")


async def _run_async() -> None:
    # Migrations run as the login role (the tables' owner), never as the application
    # role; on SQLite with foreign keys off (see _check_foreign_keys).
    engine = create_engine(_url(), pool_size=1, foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
