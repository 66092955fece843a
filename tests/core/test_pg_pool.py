"""PostgreSQL connection pool liveness (``core.pg_connection``): a connection that sat
idle is pinged before it is handed out, so one the server dropped is replaced
unseen; a connection used moments ago is trusted, and if the server dropped it anyway
the one request that finds out fails and the pool starts afresh."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from core import pg_connection
from core.db import Database

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

PID = sa.text("SELECT pg_backend_pid()")


async def backend_of(db: Database) -> int:
    async with db.session() as session:
        return (await session.execute(PID)).scalar_one()


async def terminate(database_url: str, pid: int) -> None:
    owner = Database(database_url, role=None)
    try:
        async with owner.session() as session:
            await session.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        await owner.dispose()


async def test_an_idle_connection_the_server_dropped_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url, pool_size=1)
    try:
        first = await backend_of(db)
        await terminate(database_url, first)
        monkeypatch.setattr(pg_connection, "PING_AFTER_IDLE_S", 0.0)  # as if idle for long
        second = await backend_of(db)  # no error: the ping found it dead
        assert second != first
    finally:
        await db.dispose()


async def test_a_connection_used_moments_ago_is_not_pinged(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        first = await backend_of(db)
        await terminate(database_url, first)
        with pytest.raises(DBAPIError) as caught:  # the one request that finds out
            await backend_of(db)
        assert caught.value.connection_invalidated
        assert await backend_of(db) != first  # the pool started afresh
    finally:
        await db.dispose()
