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
import sqlalchemy as sa

from core.audit.service import INSERT, entry
from core.db import Database, UTCDateTime, utcnow
from core.tokens.models import ApiToken

log = logging.getLogger("patchbay.audit")

_TOUCH = (
    sa.update(ApiToken.__table__)  # type: ignore[arg-type]
    .where(ApiToken.__table__.c.id == sa.bindparam("b_token"))  # type: ignore[attr-defined]
    .values(last_used_at=sa.bindparam("b_at", type_=UTCDateTime()))
)


class AuditWriteFailed(RuntimeError):
    """The commit carrying this caller's audit row failed (logged once, with the cause)."""


@dataclass
class _Batch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    touches: dict[str, datetime] = field(default_factory=dict)
    done: bool = False
    failed: bool = False


class AuditWriter:
    """Commits audit rows in batches; ``write`` returns once its row is committed."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._open = _Batch()
        self._lock = anyio.Lock()  # FIFO: the first waiter of a batch commits all of it
        self.commits = 0
        """Write transactions made so far (tests and benchmarks read it)."""

    async def write(self, *, touch_token: bool = False, **fields: Any) -> None:
        """Record one call (``core.audit.service.entry`` fields); ``touch_token`` also
        sets the token's ``last_used_at``. Raises ``AuditWriteFailed`` if the commit
        carrying the row failed."""
        row = entry(**fields)
        batch = self._open
        batch.rows.append(row)
        if touch_token and row["token_id"] is not None:
            batch.touches[row["token_id"]] = utcnow()
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
                await session.execute(INSERT, batch.rows)
                if batch.touches:
                    await session.execute(
                        _TOUCH, [{"b_token": t, "b_at": at} for t, at in batch.touches.items()]
                    )
        except Exception:
            batch.failed = True
            log.exception("could not write %d audit rows", len(batch.rows))
        finally:
            batch.done = True
            self.commits += 1
