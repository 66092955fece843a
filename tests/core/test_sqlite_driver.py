"""core.sqlite_driver: SQLite statements cost one thread hop each, with sqlite3's semantics."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with database.session() as session:
        await session.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield database
    await database.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call queued to an aiosqlite connection thread."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return seen


async def test_engine_uses_the_one_hop_dialect(db: Database) -> None:
    assert db.engine.dialect.driver == "patchbay"


async def test_a_read_session_costs_one_hop_per_statement(db: Database, hops: list[str]) -> None:
    async with db.session(read_only=True) as session:
        await session.connection()
        hops.clear()  # (a first checkout may connect)
        rows = (await session.execute(sa.text("SELECT 1 UNION SELECT 2"))).all()
    assert sorted(r[0] for r in rows) == [1, 2]
    assert hops == ["_run"]  # no BEGIN, no COMMIT, no pool-reset ROLLBACK


async def test_writes_keep_sqlite_semantics(db: Database, hops: list[str]) -> None:
    async with db.session() as session:
        result = await session.execute(sa.text("INSERT INTO t (v) VALUES ('a')"))
        assert result.lastrowid == 1  # type: ignore[attr-defined]
        many = await session.execute(
            sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}]
        )
        assert many.rowcount == 2  # type: ignore[attr-defined]
    assert hops.count("commit") == 1
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            await session.execute(sa.text("INSERT INTO t (v) VALUES ('d')"))
            await session.execute(sa.text("INSERT INTO t (v) VALUES ('a')"))  # duplicate
    async with db.session(read_only=True) as session:
        values = (await session.execute(sa.text("SELECT v FROM t ORDER BY id"))).scalars()
        assert list(values) == ["a", "b", "c"]  # the failed transaction rolled back whole


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_session_cancelled_mid_statement_leaves_no_task_behind(
    db: Database, read_only: bool
) -> None:
    """A cancelled session invalidates its connection; terminating it must not leave a
    close task waiting forever (it hung ``asyncio.Runner`` at shutdown: issue 14)."""
    before = asyncio.all_tasks()
    with anyio.CancelScope() as scope:
        async with db.session(read_only=read_only) as session:
            await session.execute(sa.text("SELECT 1"))
            scope.cancel()
            # (a read-only session has no transaction: it runs a read, which must not write)
            await session.execute(
                sa.text("SELECT 2" if read_only else "INSERT INTO t (v) VALUES ('lost')")
            )
    assert scope.cancelled_caught
    with anyio.fail_after(5):
        while asyncio.all_tasks() - before:
            await anyio.sleep(0.01)
    async with db.session() as session:  # the pool still hands out working connections
        await session.execute(sa.text("INSERT INTO t (v) VALUES ('kept')"))
    async with db.session(read_only=True) as session:
        assert list((await session.execute(sa.text("SELECT v FROM t"))).scalars()) == ["kept"]


def test_a_terminated_connection_closes_quietly_after_its_loop(tmp_path: Path) -> None:
    """A terminated connection's thread may still run the cancelled statement; disposing
    the database waits for it, so nothing reaches a closed loop (it raised "Event loop is
    closed" in the connection's thread, and that failed the next test)."""
    slow = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
        "SELECT count(*) FROM c"
    )
    errors: list[BaseException | None] = []
    threads: list[threading.Thread] = []

    async def main() -> None:
        db = Database(f"sqlite:///{tmp_path / 'late.db'}")
        before = set(threading.enumerate())
        with anyio.move_on_after(0.2):
            async with db.session(read_only=True) as session:
                await session.execute(sa.text(slow))
        threads.extend(set(threading.enumerate()) - before)
        await db.dispose()  # as Runtime.close() does before the loop ends

    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        anyio.run(main)  # the loop closes right after dispose()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        threading.excepthook = hook
    assert threads and not any(t.is_alive() for t in threads)
    assert errors == []
