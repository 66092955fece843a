"""Group commit for audit rows written outside the call's own transaction.

Failed calls, idempotent replays and (on SQLite, where reads take no write lock) reads
record their audit row after the fact. Each such caller hands its row to the
``AuditWriter`` and waits until it is committed; rows that arrive while a commit is in
progress go together into the next one. Nothing is lost or answered early — every
caller returns only once its row is committed — but under concurrency one write
transaction carries many rows instead of one each (SQLite has a single writer, so one
transaction per read would queue every read behind the write lock).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from core.audit import repository
from core.audit.service import entry
from core.db import Database, use_tenant, utcnow
from core.tokens import repository as tokens

log = logging.getLogger("patchbay.audit")


class AuditWriteFailed(RuntimeError):
    """The commit carrying this caller's audit row failed (logged once, with the cause)."""


@dataclass
class _Batch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    touches: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """(workspace id, token id) → when."""
    done: bool = False
    failed: bool = False


class AuditWriter:
    """Commits audit rows in batches; ``write`` returns once its row is committed."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._open = _Batch()
        self._lock = anyio.Lock()  # FIFO: the first waiter of a batch commits all of it
        self.commits = 0
        """Write transactions made so far (the tests read it to see batching)."""

    async def write(self, *, touch_token: bool = False, **fields: Any) -> None:
        """Record one call (``core.audit.service.entry`` fields); ``touch_token`` also
        sets the token's ``last_used_at``. Raises ``AuditWriteFailed`` if the commit
        carrying the row failed."""
        row = entry(**fields)
        batch = self._open
        batch.rows.append(row)
        if touch_token and row["token_id"] is not None:
            batch.touches[(row["workspace_id"], row["token_id"])] = utcnow()
        async with self._lock:
            if not batch.done:
                self._open = _Batch()
                # Shielded: the other callers of this batch wait on it, whatever happens
                # to the task that happens to commit it.
                with anyio.CancelScope(shield=True):
                    await self._commit(batch)
        if batch.failed:
            raise AuditWriteFailed("the audit row could not be written")

    async def _commit(self, batch: _Batch) -> None:
        try:
            async with self._db.session() as session:
                # one transaction, bound to each workspace in turn (row-level security)
                for workspace_id in dict.fromkeys(row["workspace_id"] for row in batch.rows):
                    await use_tenant(session, workspace_id)
                    await repository.insert(
                        session, [r for r in batch.rows if r["workspace_id"] == workspace_id]
                    )
                    uses = {
                        token: at for (ws, token), at in batch.touches.items() if ws == workspace_id
                    }
                    await tokens.touch_many(session, workspace_id, uses)
        except Exception:
            batch.failed = True
            log.exception("could not write %d audit rows", len(batch.rows))
        finally:
            batch.done = True
            self.commits += 1
