"""The domains the test suite serves: the real ones, plus test-only ones (one line each)."""

from __future__ import annotations

import asyncio
from functools import cache

from core.db import create_engine
from core.migrations.tenancy import enable_tenant_isolation
from core.platform import Platform
from patchbay.domains import DOMAINS
from tests.kit.toy.manifest import DOMAIN as TOY
from tests.kit.toy.models import ToyBase

SUITE_DOMAINS = (*DOMAINS, TOY)
SUITE_TABLES = ToyBase.metadata
"""The test-only domains' tables: created next to the migrated schema (no migration)."""


@cache
def suite_platform() -> Platform:
    """The platform of the real domains and the test-only ones."""
    return Platform.assemble(SUITE_DOMAINS)


def create_suite_tables(database_url: str) -> None:
    """Create the test-only tables in a migrated database (blocking)."""

    async def create() -> None:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(SUITE_TABLES.create_all)
                for table in SUITE_TABLES.sorted_tables:  # as a domain's migration does
                    enable_tenant_isolation(
                        connection.exec_driver_sql, table.name, dialect=engine.dialect.name
                    )
        finally:
            await engine.dispose()

    asyncio.run(create())
