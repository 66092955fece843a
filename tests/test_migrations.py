"""Migrations: an empty database reaches every head and the schema matches the models.

Covers every revision in core/migrations/versions (each domain's too, as they land).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from core.db import create_engine
from core.migrate import alembic_config, upgrade


def inspect_database(url: str, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` against ``url`` through the project's async engine."""

    async def go() -> Any:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def current_heads(conn: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


# Search structures that migrations create by hand and no model can declare: SQLite FTS5
# virtual tables (with their shadow tables), PostgreSQL trigram and tsvector GIN indexes
# and generated tsvector columns (knowledge_chunks.search_vector). They are ignored only
# when they exist in the database and not in the models.
MIGRATION_ONLY_TABLE = re.compile(r"^\w+_fts(_(data|idx|config|docsize|content))?$")
MIGRATION_ONLY_INDEX = re.compile(r"^\w+_(trgm|tsv)$")
MIGRATION_ONLY_COLUMN = re.compile(r"^search_vector$")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if reflected and compare_to is None and name:
        if type_ == "table" and MIGRATION_ONLY_TABLE.match(name):
            return False
        if type_ == "index" and MIGRATION_ONLY_INDEX.match(name):
            return False
        if type_ == "column" and MIGRATION_ONLY_COLUMN.match(name):
            return False
    return True


def schema_differences(conn: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": False,
            "include_object": include_object,
        },
    )
    return list(compare_metadata(context, SQLModel.metadata))


def test_empty_database_reaches_every_head(empty_database: str) -> None:
    assert inspect_database(empty_database, current_heads) == set()
    upgrade(empty_database)
    script = ScriptDirectory.from_config(alembic_config(empty_database))
    heads = set(script.get_heads())
    assert heads and inspect_database(empty_database, current_heads) == heads
    tables = set(inspect_database(empty_database, lambda c: sa.inspect(c).get_table_names()))
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables
    upgrade(empty_database)  # a second run is a no-op
    assert inspect_database(empty_database, current_heads) == heads


def test_migrated_schema_matches_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    differences = inspect_database(empty_database, schema_differences)
    assert differences == [], "\n".join(map(str, differences))
