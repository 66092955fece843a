"""Async engines, sessions, column types and the tenant safety net.

SQLite (default) runs in WAL mode with foreign keys on; PostgreSQL goes through
asyncpg. ``Database`` owns one engine and hands out sessions; the gateway binds a
session to a workspace so that every ORM query on a workspace-owned model is
filtered by that workspace even if a repository forgot the condition.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NewType

import anyio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlmodel import Field, SQLModel

from core.config import to_async_url

PLATFORM_KEY = "patchbay.platform"
"""Where a session's ``info`` holds the platform it serves."""

WorkspaceId = NewType("WorkspaceId", str)
"""A workspace id that came from an authenticated principal (only the gateway makes one)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to microseconds."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every engine."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class WorkspaceOwned:
    """Marker mixin for table models that carry ``workspace_id`` (defined with
    ``workspace_fk()``); the tenant filter applies to every mapped subclass."""


def workspace_fk() -> Any:
    """The ``workspace_id`` column of a workspace-owned table: the first column of its
    primary key (``tenant_pk``), so it needs no index of its own."""
    return Field(primary_key=True, foreign_key="workspaces.id", max_length=40, ondelete="CASCADE")


def tenant_pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """The primary key of a workspace-owned table: ``(workspace_id, id)`` (or
    ``(workspace_id, *columns)``). The tenant column leads every key, so a row is
    addressed within its workspace and the table can be sharded by workspace (Citus)."""
    return sa.PrimaryKeyConstraint("workspace_id", *(columns or ("id",)), name=f"{table}_pkey")


def tenant_fk(
    table: str, column: str, target: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """A foreign key from ``column`` to the workspace-owned ``target`` table, on
    ``(workspace_id, column)`` → ``(workspace_id, id)``: a reference to another
    workspace's row is impossible in the database. A nullable ``column`` is checked only
    when set (MATCH SIMPLE). ``SET NULL`` cannot be used (it would null ``workspace_id``
    too): the service clears optional links itself before deleting the target."""
    return sa.ForeignKeyConstraint(
        ["workspace_id", column],
        [f"{target}.workspace_id", f"{target}.id"],
        name=f"fk_{table}_{column}_{target}",
        ondelete=ondelete,
    )


def tenant_unique(table: str, *columns: str) -> sa.UniqueConstraint:
    """A unique constraint within a workspace: ``(workspace_id, *columns)``."""
    return sa.UniqueConstraint("workspace_id", *columns, name=f"uq_{table}_{'_'.join(columns)}")


APP_ROLE = "patchbay_app"
"""The PostgreSQL role the application runs as: not the tables' owner, not a superuser,
no BYPASSRLS, so row-level security (migration 0008) applies to every query it makes."""

TENANT_SETTING = "patchbay.workspace_id"
"""The transaction-local PostgreSQL setting the row-level security policies compare
``workspace_id`` with."""

_SET_TENANT = sa.text(f"SELECT set_config('{TENANT_SETTING}', :ws, true)")
_TENANT_SET = "patchbay.tenant_set"
"""``session.info`` key: the workspace the current transaction already set (so binding
to it again costs no round trip); cleared when the transaction ends."""


def tenant_was_set(session: AsyncSession, workspace_id: str) -> None:
    """Record that the current transaction has set ``workspace_id`` already (a statement
    that sets it itself, such as ``patchbay_authenticate``, ran)."""
    session.info[_TENANT_SET] = workspace_id


async def use_tenant(session: AsyncSession, workspace_id: str) -> None:
    """Bind ``session`` to a workspace: the ORM tenant filter applies from now on and, on
    PostgreSQL, every transaction of the session sets ``patchbay.workspace_id`` (``SET
    LOCAL``; the row-level security policies read it). ``Database.session(workspace_id)``
    binds its session the same way from the start; this is for the paths that learn the
    workspace on the way (the gate after authentication, a new workspace, the audit
    writer's batches)."""
    session.info["workspace_id"] = workspace_id
    if (
        session.in_transaction()
        and session.info.get(_TENANT_SET) != workspace_id
        and session.get_bind().dialect.name == "postgresql"
    ):
        await session.execute(_SET_TENANT, {"ws": workspace_id})
        session.info[_TENANT_SET] = workspace_id


@event.listens_for(Session, "after_begin")
def _set_tenant_on_begin(session: Session, _transaction: Any, connection: sa.Connection) -> None:
    """Each PostgreSQL transaction of a workspace-bound session starts by setting the
    tenant (transaction-local: a pooled connection never carries it to the next user).
    When the transaction has not reached the server yet (the usual case: asyncpg sends
    ``BEGIN`` with the first statement), the setting rides in the ``BEGIN`` message
    (``core.pg_connection``) instead of costing a round trip of its own."""
    workspace_id = session.info.get("workspace_id")
    if workspace_id is None or connection.dialect.name != "postgresql":
        return
    adapter = connection.connection.dbapi_connection
    expect_tenant = getattr(getattr(adapter, "_connection", None), "expect_tenant", None)
    in_begin = (
        expect_tenant is not None
        and not getattr(adapter, "_started", True)
        and expect_tenant(workspace_id)
    )
    if not in_begin:
        connection.execute(_SET_TENANT, {"ws": workspace_id})
    session.info[_TENANT_SET] = workspace_id


def _forget_expected_tenant(dbapi_connection: Any, *_args: Any) -> None:
    """A transaction starts, or the connection returns to the pool: no tenant expected
    from before may reach what comes next (the session's ``after_begin`` sets it anew)."""
    expect_tenant = getattr(getattr(dbapi_connection, "_connection", None), "expect_tenant", None)
    if expect_tenant is not None:
        expect_tenant(None)


def _forget_on_begin(conn: sa.Connection) -> None:
    _forget_expected_tenant(conn.connection.dbapi_connection)


@event.listens_for(Session, "after_transaction_end")
def _forget_tenant_set(session: Session, transaction: Any) -> None:
    """The setting was transaction-local: the next transaction sets it again."""
    if transaction.parent is None:
        session.info.pop(_TENANT_SET, None)


_WORKSPACE_OF = sa.text("SELECT patchbay_workspace_of(CAST(:table AS regclass), :id)")


async def record_workspace(session: AsyncSession, table: str, record_id: str) -> str | None:
    """The workspace of the record ``record_id`` of ``table``, whatever it is: for the
    operator's commands that take an id alone (a token, a workflow, a run). On
    PostgreSQL through ``patchbay_workspace_of`` (migration 0008): a session bound to no
    workspace sees no row of any."""
    if session.get_bind().dialect.name == "postgresql":
        found = await session.execute(_WORKSPACE_OF, {"table": table, "id": record_id})
    else:
        found = await session.execute(
            sa.text(f"SELECT workspace_id FROM {table} WHERE id = :id LIMIT 1"), {"id": record_id}
        )
    return found.scalar()


_TENANT: ContextVar[str] = ContextVar("patchbay_tenant")
"""The workspace of the ORM statement being executed (set by ``_tenant_filter``)."""

_TENANT_PARAM = sa.bindparam("tenant_ws", callable_=_TENANT.get)
"""Bound at execution from ``_TENANT``: the criterion below is one object, built once, so
statements keep one cache key whatever the workspace (a closure over the workspace id
cost ~0.4 ms of lambda analysis per statement)."""

_tenant_option: Any = None


@event.listens_for(Session, "do_orm_execute")
def _tenant_filter(state: ORMExecuteState) -> None:
    """Safety net: add ``workspace_id = :current`` to every ORM statement on owned models."""
    workspace_id = state.session.info.get("workspace_id")
    if workspace_id is None or state.execution_options.get("skip_tenant_filter"):
        return
    if state.is_select or state.is_update or state.is_delete:
        # The statement executes in this same context: that is where the criterion's
        # bound parameter reads the workspace.
        _TENANT.set(workspace_id)
        state.statement = state.statement.options(_tenant_criteria())


def _tenant_criteria() -> Any:
    """``with_loader_criteria`` on the ``WorkspaceOwned`` mixin, built once, after every
    model exists.

    ``with_loader_criteria`` on a mixin (one option for all subclasses, as SQLAlchemy
    documents) analyses the lambda against the mixin itself. Setting the attribute only
    at the first statement, once the platform's domains have defined their table models,
    keeps pydantic from seeing the models' ``workspace_id`` fields as shadowing a parent
    attribute.
    """
    global _tenant_option
    if _tenant_option is None:
        WorkspaceOwned.workspace_id = sa.column("workspace_id")  # type: ignore[attr-defined]
        _tenant_option = with_loader_criteria(
            WorkspaceOwned,
            lambda cls: cls.workspace_id == _TENANT_PARAM,
            include_aliases=True,
        )
    return _tenant_option


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, foreign_keys: bool = True) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock at BEGIN: concurrent writers then queue on busy_timeout
    # instead of failing when a read transaction tries to upgrade to a write. Read-only
    # sessions open no transaction at all: each statement reads the latest committed WAL
    # snapshot, the READ COMMITTED behaviour PostgreSQL gives every session by default,
    # and never blocks writers (and saves the BEGIN and COMMIT round trips).
    if not conn.get_execution_options().get("patchbay_read_only", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str, *, pool_size: int = 10, foreign_keys: bool = True, role: str | None = None
) -> AsyncEngine:
    """Create the async engine for ``url`` (plain or driver-qualified); ``pool_size`` sizes
    the PostgreSQL pool (SQLite keeps a small fixed one, see below).

    ``role``: on PostgreSQL, every connection runs as this role (``SET ROLE`` at connect;
    the login role must be a member). The application uses ``APP_ROLE``, which row-level
    security applies to; migrations run as the login role, which owns the tables.
    ``foreign_keys=False`` (SQLite): enforcement off, for migrations that rebuild tables
    (they check ``PRAGMA foreign_key_check`` before committing).
    """
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        path = async_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        from core import sqlite_driver  # registers the one-hop aiosqlite dialect

        one_hop = async_url.replace("sqlite+aiosqlite://", f"sqlite+{sqlite_driver.DRIVER}://", 1)
        # Few connections, kept open. Each is a thread that needs the GIL to turn rows
        # into Python objects, and SQLite runs one writer at a time anyway: beyond a few
        # threads, contention for the GIL costs more CPU per query than the overlap gains.
        # (Measured with bench/rest_overhead.py: 4 + 4 gave ~15 % more requests/s than
        # SQLAlchemy's default 5 + 10.)
        engine = create_async_engine(
            one_hop, connect_args={"timeout": 30}, pool_size=4, max_overflow=4
        )
        event.listen(
            engine.sync_engine,
            "connect",
            lambda conn, record: _sqlite_pragmas(conn, record, foreign_keys=foreign_keys),
        )
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    from core import pg_connection

    connect_args: dict[str, Any] = {"connection_class": pg_connection.TenantConnection}
    if role:
        connect_args["server_settings"] = {"role": role}
    engine = create_async_engine(
        async_url, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
    )
    pool = engine.sync_engine.pool
    # The engine's "begin" runs before the session's "after_begin" (which may expect a
    # tenant for this transaction); "checkin" when the connection goes back to the pool.
    event.listen(engine.sync_engine, "begin", _forget_on_begin)
    event.listen(pool, "checkin", _forget_expected_tenant)
    # Liveness: a connection idle for a while is pinged when checked out (pg_connection).
    event.listen(pool, "connect", pg_connection.forget_stamp)
    event.listen(pool, "checkin", pg_connection.stamp_checkin)
    event.listen(pool, "checkout", pg_connection.ping_if_idle)
    return engine


async def flush_unique(session: AsyncSession, conflict: Exception) -> None:
    """Flush, turning a unique-constraint violation into ``conflict`` (a 409 domain error).

    The service checks for the duplicate first; this catches the concurrent request that
    passed the same check a moment earlier (PostgreSQL; SQLite writers are serialised).
    """
    try:
        await session.flush()
    except IntegrityError:
        raise conflict from None


async def serialize(session: AsyncSession, key: str) -> None:
    """Until the transaction ends, hold a lock named ``key``: transactions taking the same
    key run their check-then-write one after another (e.g. a count against a cap).

    PostgreSQL: a transaction-scoped advisory lock (statements after it see what the
    previous holder committed). SQLite: nothing to do, writers are serialised already
    (``BEGIN IMMEDIATE``).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, role: str | None = APP_ROLE) -> None:
        self.url = url
        self.platform: Any = None
        """The assembled domains (``core.platform.Platform``); the runtime sets it and every
        session carries it in ``info`` for the kernel's hooks (events, related records)."""
        self.engine = create_engine(url, pool_size=pool_size, role=role)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, class_=AsyncSession
        )
        # SQLite has one writer at a time. Writers of this process queue here instead of in
        # SQLite's busy handler, which sleeps in growing steps and wrecks throughput under
        # concurrency (other processes still wait on busy_timeout).
        self._write_lock: anyio.Lock | None = anyio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(
        self, workspace_id: WorkspaceId | None = None, *, read_only: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success and rolled back on error.

        ``workspace_id`` binds the session to that workspace (``use_tenant``: the ORM
        filter, and PostgreSQL's row-level security);
        ``read_only`` runs SQLite statements without a transaction (each reads the latest
        committed snapshot, as under PostgreSQL's READ COMMITTED); it must not write.
        """
        async with AsyncExitStack() as stack:
            if self._write_lock is not None and not read_only:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self._sessions())
            session.info[PLATFORM_KEY] = self.platform
            if workspace_id is not None:
                session.info["workspace_id"] = workspace_id
            if read_only:
                await session.connection(execution_options={"patchbay_read_only": True})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        """Close every pooled connection and wait for the ones terminated before (SQLite:
        their threads may still be finishing a cancelled statement)."""
        await self.engine.dispose()
        join_closing = getattr(self.engine.dialect.dbapi, "join_closing", None)
        if join_closing is not None:
            await join_closing()


__all__ = [
    "APP_ROLE",
    "TENANT_SETTING",
    "Database",
    "JSONType",
    "SQLModel",
    "UTCDateTime",
    "WorkspaceId",
    "WorkspaceOwned",
    "create_engine",
    "flush_unique",
    "record_workspace",
    "serialize",
    "tenant_fk",
    "tenant_pk",
    "tenant_unique",
    "tenant_was_set",
    "use_tenant",
    "utcnow",
    "workspace_fk",
]
