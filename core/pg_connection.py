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
from typing import Any

import asyncpg

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
