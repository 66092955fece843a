"""Claiming and leasing job rows.

PostgreSQL: ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` so any
number of workers share a table without blocking each other. SQLite: the same atomic
``UPDATE … RETURNING`` (writers are serialised by the database lock).

Leases. A claim sets ``locked_by`` to the worker and ``lease_until`` to now + the lease,
and counts the attempt, in its own (committed) transaction. While a handler runs, the
worker extends the lease every third of it; a row whose lease ran out may be claimed by
another worker, so every write a handler makes is guarded by ``locked_by = me`` (or made
under a row lock taken by such a guarded statement). A queue with a ``batch_handler``
claims up to ``batch_size`` rows in one statement; the batch shares one heartbeat (one
statement extends every lease of the batch) and each row's lease is dropped when the
handler records that row's outcome, independently of the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, select, update

from core.db import Database, WorkspaceId, utcnow

if TYPE_CHECKING:
    from core.runtime import Runtime


@dataclass(frozen=True)
class ClaimedJob:
    """A row this worker holds a lease on."""

    queue: Queue
    id: str
    workspace_id: WorkspaceId
    worker_id: str
    attempts: int


JobHandler = Callable[["Runtime", ClaimedJob], Awaitable[None]]
BatchHandler = Callable[["Runtime", list[ClaimedJob]], Awaitable[None]]


@dataclass(frozen=True)
class Queue:
    """A job table and how to process its rows: one at a time (``handler``) or in batches
    (``batch_handler``).

    ``batch_handler`` (optional) opts the queue in to batches: the worker claims up to
    ``batch_size`` rows at once and hands them all to it (all claimed by the same worker).
    The handler must record or release every row; rows it leaves leased are released by
    the worker when it returns with an error or is cancelled.
    """

    name: str
    model: Any  # a table model with JobFields and WorkspaceOwned
    ready_statuses: tuple[str, ...]
    handler: JobHandler | None = None
    batch_handler: BatchHandler | None = None
    batch_size: int = 1

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"queue {self.name!r}: give a handler or a batch_handler")


async def claim(
    db: Database, queue: Queue, *, worker_id: str, lease_seconds: float, limit: int = 1
) -> list[ClaimedJob]:
    """Atomically lease up to ``limit`` due rows of ``queue`` for ``worker_id``."""
    model = queue.model
    now = utcnow()
    due = (
        select(model.id)
        .where(
            # Inline the statuses: a bound parameter would hide them from the planner, and
            # a generic (prepared) plan could then not use a partial index on "ready" rows
            # and would walk every finished row on each claim.
            model.status.in_(
                bindparam(
                    "ready_statuses",
                    list(queue.ready_statuses),
                    expanding=True,
                    literal_execute=True,
                )
            ),
            model.run_after <= now,
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .order_by(model.run_after, model.id)
        .limit(limit)
    )
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(model)
        .where(model.id.in_(due.scalar_subquery()))
        .values(
            lease_until=now + timedelta(seconds=lease_seconds),
            locked_by=worker_id,
            attempts=model.attempts + 1,
        )
        .returning(model.id, model.workspace_id, model.attempts)
        .execution_options(synchronize_session=False)
    )
    async with db.session() as session:
        rows = (await session.execute(stmt)).all()
    return [ClaimedJob(queue, r[0], WorkspaceId(r[1]), worker_id, r[2]) for r in rows]


async def extend_lease(db: Database, job: ClaimedJob, lease_seconds: float) -> bool:
    """Push the lease forward; False if another worker took the row over."""
    model = job.queue.model
    async with db.session() as session:
        result = await session.execute(
            update(model)
            .where(model.id == job.id, model.locked_by == job.worker_id)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def extend_leases(db: Database, jobs: list[ClaimedJob], lease_seconds: float) -> set[str]:
    """Push the leases of a batch forward in one statement; the ids still held."""
    if not jobs:
        return set()
    model = jobs[0].queue.model
    async with db.session() as session:
        rows = await session.execute(
            update(model)
            .where(model.id.in_([job.id for job in jobs]), model.locked_by == jobs[0].worker_id)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return {row[0] for row in rows}


async def release_many(db: Database, jobs: list[ClaimedJob]) -> None:
    """Give back every row of ``jobs`` still leased by their worker (one statement)."""
    if not jobs:
        return
    model = jobs[0].queue.model
    async with db.session() as session:
        await session.execute(
            update(model)
            .where(model.id.in_([job.id for job in jobs]), model.locked_by == jobs[0].worker_id)
            .values(lease_until=None, locked_by=None)
            .execution_options(synchronize_session=False)
        )


def owned(job: ClaimedJob) -> Any:
    """The WHERE condition "this row is still leased by this worker"."""
    model = job.queue.model
    return (model.id == job.id) & (model.locked_by == job.worker_id)


async def finish(session: Any, job: ClaimedJob, **values: Any) -> bool:
    """In the caller's transaction: set ``values`` and drop the lease; False if lost."""
    model = job.queue.model
    result = await session.execute(
        update(model)
        .where(owned(job))
        .values(lease_until=None, locked_by=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def release(db: Database, job: ClaimedJob, *, run_after: datetime | None = None) -> bool:
    """Give the row back to the queue (optionally not before ``run_after``)."""
    values: dict[str, Any] = {}
    if run_after is not None:
        values["run_after"] = run_after
    async with db.session() as session:
        return await finish(session, job, **values)
