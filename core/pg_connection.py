"""The asyncpg connection Patchbay's PostgreSQL engines use: it sets the tenant of a
transaction in the round trip that begins it.

Row-level security reads ``patchbay.workspace_id``, a transaction-local setting, so a
workspace-bound transaction must set it before its first statement. Sent as a statement
of its own, that is one more round trip per transaction (measured ~0.4 ms through
SQLAlchemy on the project's machine: as much as the query of a list page). Instead,
``core.db`` tells the connection which workspace the transaction is for when the
session's transaction begins (``expect_tenant``), and the ``BEGIN`` that asyncpg sends
before the first statement carries the ``set_config`` in the same simple-protocol
message. ``core.db`` forgets the expectation whenever a transaction begins and when the
connection goes back to the pool, so it can never reach another transaction.
"""

from __future__ import annotations

import re
import time
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.util import await_only

from core.db import TENANT_SETTING

_SAFE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
"""Workspace ids are generated (a prefix and base32); an id outside this alphabet is never
written into SQL text: ``expect_tenant`` refuses it and ``core.db`` binds it instead."""


class TenantConnection(asyncpg.Connection):  # type: ignore[misc]
    """``asyncpg.Connection`` whose next ``BEGIN`` may also set the tenant."""

    __slots__ = ("_patchbay_tenant",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._patchbay_tenant: str | None = None

    def expect_tenant(self, workspace_id: str | None) -> bool:
        """The next transaction this connection begins sets ``workspace_id`` (None: sets
        nothing). False, and nothing expected, when the id is not safe to inline."""
        if workspace_id is not None and _SAFE_ID.fullmatch(workspace_id) is None:
            self._patchbay_tenant = None
            return False
        self._patchbay_tenant = workspace_id
        return True

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """asyncpg's ``execute``; the ``BEGIN`` of ``Transaction.start`` (simple protocol,
        no arguments) carries the expected tenant's ``set_config``."""
        tenant = self._patchbay_tenant
        if tenant is not None and not args and query.startswith("BEGIN"):
            self._patchbay_tenant = None
            query = f"{query};SELECT set_config('{TENANT_SETTING}', '{tenant}', true)"
        return await super().execute(query, *args, timeout=timeout)


PING_AFTER_IDLE_S = 5.0
"""A pooled connection unused for longer than this is pinged before it is handed out."""

_IDLE_SINCE = "patchbay.idle_since"


def stamp_checkin(_dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin``: remember when the connection went idle."""
    record.info[_IDLE_SINCE] = time.monotonic()


def forget_stamp(_dbapi_connection: Any, record: Any) -> None:
    """Pool ``connect``: a new connection needs no ping before its first use."""
    record.info.pop(_IDLE_SINCE, None)


def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pool ``checkout``: ping a connection that sat idle for ``PING_AFTER_IDLE_S`` or
    more (one round trip, ``;``); raising ``DisconnectionError`` makes the pool discard it
    and hand out another.

    SQLAlchemy's own ``pool_pre_ping`` pings on every checkout, in a transaction of its
    own (``BEGIN``, ``;``, ``ROLLBACK``: three round trips, as many as the rest of a simple
    read). A connection used moments ago is alive but for a server restart in between;
    then the first statement fails, SQLAlchemy recognises the disconnect and empties the
    pool, and the next request gets fresh connections."""
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        await_only(dbapi_connection._connection.fetchrow(";"))
    except Exception as exc:  # any failure: the connection is not fit to hand out
        raise sa_exc.DisconnectionError(f"stale connection: {exc}") from exc
