"""Claiming and leasing job rows.

PostgreSQL: ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` inside the
``patchbay_claim_<table>`` function (migration 0008: the claim is the one query that looks
across workspaces, which row-level security forbids the application role), so any number
of workers share a table without blocking each other. SQLite: the same atomic ``UPDATE …
RETURNING`` (writers are serialised by the database lock). Either way one claim takes
rows of one workspace only, and everything after it runs bound to that workspace.

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

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import bindparam, or_, select, update

from core.db import Database, UTCDateTime, WorkspaceId, utcnow

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
    ``batch_size`` rows at once and hands them all to it (all claimed by the same worker,
    all of one workspace).
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
    """Atomically lease, of the earliest ``limit`` due rows of ``queue``, those of the
    first row's workspace for ``worker_id``: the handler then runs bound to it.

    The claim is the one query that looks across workspaces. On PostgreSQL it goes
    through ``patchbay_claim_<table>`` (``core.migrations.tenancy.create_claim_function``),
    a ``SECURITY DEFINER`` function that can only lease due rows of its job table: the
    application role itself sees no row of a workspace it is not bound to (row-level
    security).
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    async with db.session() as session:
        if db.is_sqlite:
            rows = (
                await session.execute(
                    _sqlite_claim(queue, limit),
                    {
                        "now": now,
                        "lease_until": lease_until,
                        "worker": worker_id,
                    },
                )
            ).all()
        else:
            rows = (
                await session.execute(
                    _claim_statement(queue.model.__tablename__),
                    {
                        "worker": worker_id,
                        "now": now,
                        "lease_until": lease_until,
                        "limit": limit,
                    },
                )
            ).all()
    return [ClaimedJob(queue, r[0], WorkspaceId(r[1]), worker_id, r[2]) for r in rows]


@functools.cache
def _claim_statement(table: str) -> Any:
    """PostgreSQL: the job table's claim function (its migration creates it)."""
    return sa.text(
        f"SELECT id, workspace_id, attempts FROM patchbay_claim_{table}("
        ":worker, :now, :lease_until, :limit)"
    ).bindparams(
        sa.bindparam("now", type_=UTCDateTime()),
        sa.bindparam("lease_until", type_=UTCDateTime()),
    )


def _sqlite_claim(queue: Queue, limit: int) -> Any:
    """SQLite: the same claim as one ``UPDATE … RETURNING`` (writers are serialised)."""
    model = queue.model
    now = sa.bindparam("now", type_=UTCDateTime())

    def due(q: Any) -> Any:
        return q.where(
            # Inlined statuses: the planner then uses the partial index on ready rows.
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
        ).order_by(model.run_after, model.id)

    first = due(select(model.workspace_id)).limit(1).scalar_subquery()
    batch = due(select(model.id)).limit(limit)
    return (
        update(model)
        .where(model.workspace_id == first, model.id.in_(batch.scalar_subquery()))
        .values(
            lease_until=sa.bindparam("lease_until", type_=UTCDateTime()),
            locked_by=sa.bindparam("worker"),
            attempts=model.attempts + 1,
        )
        .returning(model.id, model.workspace_id, model.attempts)
        .execution_options(synchronize_session=False)
    )


async def extend_lease(db: Database, job: ClaimedJob, lease_seconds: float) -> bool:
    """Push the lease forward; False if another worker took the row over."""
    model = job.queue.model
    async with db.session(job.workspace_id) as session:
        result = await session.execute(
            update(model)
            .where(owned(job))
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def extend_leases(db: Database, jobs: list[ClaimedJob], lease_seconds: float) -> set[str]:
    """Push the leases of a batch forward in one statement; the ids still held."""
    if not jobs:
        return set()
    model = jobs[0].queue.model
    async with db.session(jobs[0].workspace_id) as session:
        rows = await session.execute(
            update(model)
            .where(_held(jobs))
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
    async with db.session(jobs[0].workspace_id) as session:
        await session.execute(
            update(model)
            .where(_held(jobs))
            .values(lease_until=None, locked_by=None)
            .execution_options(synchronize_session=False)
        )


def owned(job: ClaimedJob) -> Any:
    """The WHERE condition "this row is still leased by this worker"."""
    model = job.queue.model
    return (
        (model.workspace_id == job.workspace_id)
        & (model.id == job.id)
        & (model.locked_by == job.worker_id)
    )


def _held(jobs: list[ClaimedJob]) -> Any:
    """The WHERE condition "these rows (one claim: one workspace, one worker) are still
    leased by their worker"."""
    model = jobs[0].queue.model
    return (
        (model.workspace_id == jobs[0].workspace_id)
        & model.id.in_([job.id for job in jobs])
        & (model.locked_by == jobs[0].worker_id)
    )


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
    async with db.session(job.workspace_id) as session:
        return await finish(session, job, **values)
