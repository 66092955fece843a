"""The SQLite dialect the engine uses: aiosqlite with one thread hop per statement.

aiosqlite runs each ``sqlite3`` call on the connection's own thread, and SQLAlchemy's
adapter makes four such calls per SELECT (cursor, execute, fetchall, close) and three
per DML statement, each a round trip through the event loop. This adapter runs the
whole statement — cursor, execute, fetch, close — as one call on that thread, and skips
COMMIT and ROLLBACK (the pool's reset) when no transaction is open. Results, errors and transaction
behaviour are those of ``sqlite3``; only the number of hops changes.

It also terminates connections without waiting (see ``OneHopConnection.terminate``), so a
task cancelled inside a session leaves no task behind that could hang the event loop's
shutdown.

Registered as ``sqlite+patchbay``; ``core.db.create_engine`` picks it for SQLite URLs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from typing import Any

import anyio
from aiosqlite.core import _STOP_RUNNING_SENTINEL
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DRIVER = "patchbay"

_Outcome = tuple[Any, list[Any], int, int]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: one statement from cursor to close."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose ``execute`` / ``executemany`` is one thread hop."""

    __slots__ = ()

    def _one_hop(self, sql: str, parameters: Any, many: bool) -> None:
        connection = self._connection  # aiosqlite.Connection
        try:
            description, rows, lastrowid, rowcount = self.await_(
                connection._execute(_run, connection._conn, sql, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        self._rows = deque(rows)
        self.lastrowid = lastrowid
        self.rowcount = rowcount

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._one_hop(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._one_hop(operation, seq_of_parameters, True)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Hands out one-hop cursors; a rollback with no open transaction costs nothing."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            return super().cursor(server_side=True)
        return OneHopCursor(self)

    def _idle(self) -> bool:
        # ``in_transaction`` reads sqlite3_get_autocommit(), safe from any thread; no
        # statement runs on this connection meanwhile (SQLAlchemy uses it from one task).
        connection = self._connection._connection
        return connection is not None and not connection.in_transaction

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def terminate(self) -> None:
        """Close the connection without waiting for it (the pool invalidates a connection
        whose task was cancelled mid-statement, and terminates it).

        SQLAlchemy's default first awaits a shielded ``close()`` in a task of its own and,
        when the waiting task is cancelled (it is: that is why the connection is being
        invalidated), also calls ``stop()``. aiosqlite's ``close()`` then queues its own
        stop behind the first one, which ends the connection's thread: the orphaned close
        task waits forever and ``asyncio.Runner`` hangs in ``_cancel_all_tasks`` at
        shutdown. Here the close is queued behind the statement in flight (closing rolls
        back an open transaction) and ends the thread; nothing awaits it. Unlike
        ``stop()``, it carries no future: the thread may get to it after the event loop
        closed, and resolving a future then raises in the thread ("Event loop is closed").
        The connection is marked closed at once, so a later ``close()`` returns at once.
        """
        connection = self._connection  # aiosqlite.Connection
        if not connection._running:
            return
        sqlite_connection = connection._connection
        connection._running = False
        connection._connection = None

        def close_and_stop() -> object:
            if sqlite_connection is not None:
                sqlite_connection.close()
            return _STOP_RUNNING_SENTINEL

        connection._tx.put_nowait((None, close_and_stop))
        self.dbapi.closing.add(connection._thread)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        self.closing: set[threading.Thread] = set()
        """Threads of terminated connections, still finishing their statement and close."""

    async def join_closing(self, timeout: float = 30.0) -> None:
        """Wait (up to ``timeout`` s each) for the threads of terminated connections: a
        statement a cancelled task left running answers its future when it ends, which
        raises in the thread once the event loop is closed ("Event loop is closed")."""
        threads, self.closing = [t for t in self.closing if t.is_alive()], set()
        for thread in threads:
            await anyio.to_thread.run_sync(thread.join, timeout)

    def connect(self, *arg: Any, **kw: Any) -> Any:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class PatchbaySQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # type: ignore[override]
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "PatchbaySQLiteDialect")
