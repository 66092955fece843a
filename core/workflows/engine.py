"""Executing a claimed run: resume after the last recorded step, one transaction per
segment of steps, delays hand the run back to the queue instead of sleeping.

Transactions. Every transaction on a run starts with a guarded ``UPDATE … WHERE id = :run
AND locked_by = :me RETURNING …``: it proves the lease is still ours, loads the run and
row-locks it until commit, so no other worker can record anything for the run meanwhile.
A segment is a stretch of consecutive non-delay steps (at most ``SEGMENT_STEPS``): the
steps run one after another, each sees the previous one's effects, and the segment's step
records, counters and (at the end) the final status and its ``workflow_run.*`` event are
committed together. A step's effects are database writes in that same transaction (the
output trail, queued webhook deliveries), so a crash before the commit undoes the step
together with its record and the step runs again afterwards: nothing is recorded twice.
A ``delay`` step is recorded as ``waiting`` (with ``resume_at``), the run gets ``run_after =
now + seconds`` and the lease is dropped, all in one transaction; the worker is free at
once. When the run is claimed again the waiting step becomes ``succeeded`` (finished then).

Batches. The worker claims up to ``BATCH_SIZE`` runs at once (``handle_batch``); their
segments share one transaction: one guarded ``SELECT … WHERE id IN (…) AND locked_by =
:me FOR UPDATE`` locks and loads them all, the steps run run after run, one executemany
``UPDATE`` saves every run's progress and one INSERT records the ``workflow_run.*``
events. Per-run isolation: the batch commits or rolls back as a whole, so a run's steps
are recorded exactly once either way. A step that fails after it may have written
(``RetrySegment``) rolls the batch back and the batch is redone with that failure known;
any other error rolls it back and the runs are then executed one by one (``handle``), so
one broken run cannot hold back or lose the others' progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.errors import DomainError
from core.events.service import emit_many
from core.jobs.queue import ClaimedJob, finish, release
from core.platform import platform_of
from core.workflows import recipes
from core.workflows.models import READY_STATUSES, WorkflowRun
from core.workflows.schemas import RunStatus

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("patchbay.workflows")

SEGMENT_STEPS = 50
"""Most consecutive non-delay steps executed and committed in one transaction."""
BATCH_SIZE = 50
"""Runs a worker slot claims at once and executes in one transaction."""
MAX_CLAIMS_WITHOUT_PROGRESS = 8
"""A run whose handler keeps crashing before committing anything is failed after this."""
MAX_RENDERED_CHARS = 16_384
MAX_PAYLOAD_BYTES = 64 * 1024

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class LeaseLost(Exception):
    """Another worker owns the run now; stop without writing."""


class RetrySegment(Exception):
    """A step failed after it may have written: roll the segment back, redo it with the
    step's failure known in advance (so no write of the failed step survives)."""

    def __init__(self, index: int, result: StepResult, run_id: str = "") -> None:
        super().__init__(index)
        self.index = index
        self.result = result
        self.run_id = run_id


@dataclass
class StepResult:
    status: str
    output: dict[str, Any] | None = None
    error: dict[str, str] | None = None


@dataclass
class RunState:
    id: str
    workspace_id: WorkspaceId
    workflow_id: str
    status: str
    input: dict[str, Any]
    recipe: Any
    steps: list[dict[str, Any]]
    next_step: int
    steps_succeeded: int
    steps_failed: int
    error_code: str | None
    error_message: str | None
    started_at: datetime | None
    run_after: datetime
    known_failures: dict[int, StepResult] = field(default_factory=dict)


_RUNS = WorkflowRun.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    _RUNS.c.id,
    _RUNS.c.workspace_id,
    _RUNS.c.workflow_id,
    _RUNS.c.status,
    _RUNS.c.input,
    _RUNS.c.recipe,
    _RUNS.c.steps,
    _RUNS.c.next_step,
    _RUNS.c.steps_succeeded,
    _RUNS.c.steps_failed,
    _RUNS.c.error_code,
    _RUNS.c.error_message,
    _RUNS.c.started_at,
    _RUNS.c.run_after,
)
# Prebuilt statements: SQLAlchemy computes their cache keys once, not per execution.
_LOCK_ONE = (
    update(_RUNS)
    .where(
        _RUNS.c.workspace_id == bindparam("ws"),
        _RUNS.c.id == bindparam("run_id"),
        _RUNS.c.locked_by == bindparam("me"),
    )
    .values(lease_until=bindparam("lease"))
    .returning(*_COLUMNS)
)
_LOCK_MANY = (
    select(*_COLUMNS)
    .where(
        _RUNS.c.workspace_id == bindparam("ws"),
        _RUNS.c.id.in_(bindparam("ids", expanding=True)),
        _RUNS.c.locked_by == bindparam("me"),
    )
    .with_for_update()
)
"""Row locks (PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database lock) instead of
an UPDATE: the claim set the lease moments ago, no other worker can take a locked row,
and one tuple version fewer per run keeps the table small."""
_SAVE = update(_RUNS).where(
    _RUNS.c.workspace_id == bindparam("b_ws"),
    _RUNS.c.id == bindparam("b_id"),
    _RUNS.c.locked_by == bindparam("b_worker"),
)
"""Executed with one parameter set per run; the other keys of a set form its SET clause."""
_DROP = (
    update(_RUNS)
    .where(
        _RUNS.c.workspace_id == bindparam("ws"),
        _RUNS.c.id.in_(bindparam("ids", expanding=True)),
        _RUNS.c.locked_by == bindparam("me"),
    )
    .values(lease_until=None, locked_by=None)
)


async def lock_run(session: AsyncSession, job: ClaimedJob, lease_seconds: float) -> RunState:
    """Refresh our lease and load the run, row-locking it; ``LeaseLost`` if not ours."""
    # Core statements on the table (not ORM-enabled): the same SQL, less Python per run.
    lease = utcnow() + timedelta(seconds=lease_seconds)
    params = {"ws": job.workspace_id, "run_id": job.id, "me": job.worker_id, "lease": lease}
    row = (await session.execute(_LOCK_ONE, params)).first()
    if row is None:
        raise LeaseLost(job.id)
    return RunState(*row)


def event_id_for(run_id: str, index: int) -> str:
    """A deterministic ``evt_…`` id per (run, step index): a repeated step reuses it."""
    digest = int.from_bytes(hashlib.sha256(f"{run_id}:{index}".encode()).digest()[:17], "big")
    return "evt_" + "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(26))


EVENT_PUBLISHER = "event_publisher"
"""The capability that sends a fired event to its subscribers (the webhook domain's
fan-out): ``publish(session, workspace_id, event_type, payload, *, event_id) -> matched``.
Without a domain providing it, a fired event reaches nobody (``matched_endpoints: 0``)."""

LOOKUP_CACHE = "lookup_cache"
"""The capability's companion: ``cache(session)`` lets it look endpoints up once per
transaction (engine transactions change no endpoint)."""


def _cache_lookups(session: AsyncSession) -> None:
    """Engine transactions change no endpoint: let the publisher look them up once."""
    cache = platform_of(session).capability(LOOKUP_CACHE)
    if cache is not None:
        cache(session)


def _failed(code: str, message: str, output: dict[str, Any] | None = None) -> StepResult:
    return StepResult("failed", output, {"code": code, "message": message})


async def run_step(session: AsyncSession, run: RunState, index: int, step: Any) -> StepResult:
    """Execute one non-delay step inside the run's transaction."""
    if isinstance(step, recipes.LogStep):
        message = recipes.render_text(step.message, run.input)
        if len(message) > MAX_RENDERED_CHARS:
            return _failed(
                "step_output_too_large",
                f"The rendered message has {len(message)} characters; at most "
                f"{MAX_RENDERED_CHARS} are allowed.",
            )
        return StepResult("succeeded", {"message": message})
    if isinstance(step, recipes.FireWebhookEventStep):
        return await _fire(session, run, index, step)
    raise AssertionError(f"unexpected step {step!r}")  # delay is handled by the caller


async def _fire(
    session: AsyncSession, run: RunState, index: int, step: recipes.FireWebhookEventStep
) -> StepResult:
    event = recipes.render_text(step.event, run.input)
    problem = recipes.event_name_problem(event, platform_of(session).event_types)
    if problem is not None:
        return _failed(*problem, output={"event": event})
    payload = recipes.render_value(step.payload, run.input)
    size = len(json.dumps(payload, separators=(",", ":")))
    if size > MAX_PAYLOAD_BYTES:
        return _failed(
            "payload_too_large",
            f"The rendered payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed.",
            output={"event": event},
        )
    event_id = event_id_for(run.id, index)
    if index in run.known_failures:
        return run.known_failures[index]
    publish = platform_of(session).capability(EVENT_PUBLISHER)
    matched = 0
    if publish is not None:
        try:
            matched = int(
                await publish(session, run.workspace_id, event, payload, event_id=event_id)
            )
        except DomainError as exc:
            # No savepoint on the hot path: the fan-out may have written before refusing, so
            # the whole segment is rolled back and redone with this failure known.
            raise RetrySegment(index, _failed(exc.code, exc.message, {"event": event})) from None
    return StepResult(
        "succeeded", {"event": event, "event_id": event_id, "matched_endpoints": matched}
    )


def _record(
    run: RunState,
    index: int,
    step_type: str,
    result: StepResult,
    started: datetime,
    finished: datetime,
) -> None:
    entry: dict[str, Any] = {
        "index": index,
        "type": step_type,
        "status": result.status,
        "started_at": started.isoformat(),
    }
    if result.status == "waiting":  # a pausing delay: not finished, resumes then
        entry["resume_at"] = finished.isoformat()
    else:
        entry["finished_at"] = finished.isoformat()
    if result.output is not None:
        entry["output"] = result.output
    if result.error is not None:
        entry["error"] = result.error
    # Same index, same slot: a repeated step can never add a second record.
    run.steps = [s for s in run.steps if s.get("index") != index] + [entry]
    run.next_step = index + 1
    if result.status == "succeeded":
        run.steps_succeeded += 1
    elif result.status == "waiting":
        pass  # counted when the pause is over (_end_wait)
    else:
        run.steps_failed += 1
        if run.error_code is None:
            run.error_code = result.error["code"] if result.error else "step_failed"
            run.error_message = (
                f"Step {index} ({step_type}) failed: "
                + (result.error["message"] if result.error else "")
            )[:2000]


@dataclass
class Advance:
    """What executing a segment did to a run: the columns to save (the same keys for
    every run, so a batch is saved with one executemany), the ``workflow_run.*`` event to
    record if it finished, and whether the handler is done with it (lease dropped)."""

    values: dict[str, Any]
    event: tuple[str, dict[str, Any]] | None
    done: bool


def _values(
    run: RunState,
    *,
    run_after: datetime,
    finished_at: datetime | None,
    lease_until: datetime | None,
    locked_by: str | None,
) -> dict[str, Any]:
    return {
        "status": run.status,
        "steps": run.steps,
        "next_step": run.next_step,
        "steps_succeeded": run.steps_succeeded,
        "steps_failed": run.steps_failed,
        "error_code": run.error_code,
        "error_message": run.error_message,
        "started_at": run.started_at,
        "attempts": 0,  # progress was made: reset the crash-loop counter
        "run_after": run_after,
        "finished_at": finished_at,
        "lease_until": lease_until,
        "locked_by": locked_by,
    }


def _finished(run: RunState, now: datetime, *, total: int) -> Advance:
    _end_wait(run, now)  # a finished run has no step left waiting (e.g. given up on)
    run.status = RunStatus.failed if run.error_code else RunStatus.succeeded
    values = _values(
        run, run_after=run.run_after, finished_at=now, lease_until=None, locked_by=None
    )
    event = {
        "run_id": run.id,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "steps_total": total,
        "steps_succeeded": run.steps_succeeded,
        "steps_failed": run.steps_failed,
        "error_code": run.error_code,
        "error_message": run.error_message,
    }
    return Advance(values, (f"workflow_run.{run.status}", event), True)


def _end_wait(run: RunState, now: datetime) -> None:
    """The pause of a waiting delay step is over (the run was claimed again): the step
    succeeded, finishing now."""
    if not any(s.get("status") == "waiting" for s in run.steps):
        return
    steps = []
    for entry in run.steps:
        if entry.get("status") == "waiting":
            entry = {k: v for k, v in entry.items() if k != "resume_at"}
            entry.update(status="succeeded", finished_at=now.isoformat())
            run.steps_succeeded += 1
        steps.append(entry)
    run.steps = steps


_parsed: dict[str, Any] = {}
"""Parsed recipes by their canonical JSON (runs of one workflow share a snapshot)."""


def _parse(recipe: Any, reserved: Collection[str]) -> Any:
    key = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    parsed = _parsed.get(key)
    if parsed is None:
        parsed = recipes.parse_recipe(recipe, reserved)  # DomainError for an invalid recipe
        if len(_parsed) >= 256:
            _parsed.clear()
        _parsed[key] = parsed
    return parsed


async def _advance(
    session: AsyncSession, run: RunState, worker_id: str, lease_until: datetime
) -> Advance:
    """Execute the run's next segment (the run is locked by ``session``)."""
    now = utcnow()
    if run.status == RunStatus.queued:
        run.status = RunStatus.running
        run.started_at = now
    _end_wait(run, now)
    try:
        recipe = _parse(run.recipe, platform_of(session).event_types)
    except DomainError as exc:  # a stored recipe that is (no longer) valid
        run.error_code, run.error_message = exc.code, exc.message
        return _finished(run, now, total=recipes.step_count(run.recipe))
    steps = recipe.steps
    done_in_segment = 0
    while run.next_step < len(steps) and done_in_segment < SEGMENT_STEPS:
        index = run.next_step
        step = steps[index]
        started = utcnow()
        if isinstance(step, recipes.DelayStep):
            resume_at = started + timedelta(seconds=step.seconds)
            result = StepResult(
                "waiting", {"seconds": step.seconds, "resume_at": resume_at.isoformat()}
            )
            _record(run, index, step.type, result, started, resume_at)
            # Hand the run back to the queue until the pause is over.
            values = _values(
                run, run_after=resume_at, finished_at=None, lease_until=None, locked_by=None
            )
            return Advance(values, None, True)
        result = await run_step(session, run, index, step)
        _record(run, index, step.type, result, started, utcnow())
        done_in_segment += 1
        if result.status == "failed" and not recipe.continue_on_error:
            return _finished(run, utcnow(), total=len(steps))
    if run.next_step >= len(steps):
        return _finished(run, utcnow(), total=len(steps))
    values = _values(
        run, run_after=run.run_after, finished_at=None, lease_until=lease_until, locked_by=worker_id
    )
    return Advance(values, None, False)


async def _save(
    session: AsyncSession, worker_id: str, advances: list[tuple[RunState, Advance]]
) -> None:
    """Save every run's progress (one executemany) and record the finished runs' events."""
    if not advances:
        return
    await session.execute(
        _SAVE,
        [
            {"b_ws": run.workspace_id, "b_id": run.id, "b_worker": worker_id, **adv.values}
            for run, adv in advances
        ],
    )
    events = [(run.workspace_id, *adv.event) for run, adv in advances if adv.event is not None]
    await emit_many(session, events)


async def execute(runtime: Runtime, job: ClaimedJob) -> None:
    """Run ``job``'s workflow run from its next step until it finishes or pauses."""
    db = runtime.db
    lease_seconds = runtime.settings.job_lease_seconds
    known_failures: dict[int, StepResult] = {}
    while True:
        try:
            if await _segment(db, job, lease_seconds, known_failures):
                return
        except RetrySegment as retry:
            known_failures[retry.index] = retry.result


async def _segment(
    db: Any, job: ClaimedJob, lease_seconds: float, known_failures: dict[int, StepResult]
) -> bool:
    """One transaction: lock the run, execute steps; True when the handler is done."""
    async with db.session(job.workspace_id) as session:
        _cache_lookups(session)
        run = await lock_run(session, job, lease_seconds)
        run.known_failures = known_failures
        if run.status not in READY_STATUSES:  # finished meanwhile: just drop the lease
            await finish(session, job)
            return True
        lease_until = utcnow() + timedelta(seconds=lease_seconds)
        advance = await _advance(session, run, job.worker_id, lease_until)
        await _save(session, job.worker_id, [(run, advance)])
    _log_finished([(run, advance)])
    return advance.done


async def _batch_segment(
    db: Any,
    jobs: list[ClaimedJob],
    lease_seconds: float,
    known: dict[str, dict[int, StepResult]],
) -> list[ClaimedJob]:
    """One transaction for a segment of every run in ``jobs`` (claimed together: one
    worker, one workspace); returns the runs that need another segment. Runs no longer
    ours are skipped."""
    worker_id, workspace_id = jobs[0].worker_id, jobs[0].workspace_id
    assert all(job.workspace_id == workspace_id for job in jobs), "a claim is one workspace"
    by_id = {job.id: job for job in jobs}
    lease_until = utcnow() + timedelta(seconds=lease_seconds)
    continuing: list[ClaimedJob] = []
    async with db.session(workspace_id) as session:
        _cache_lookups(session)
        params = {"ws": workspace_id, "ids": list(by_id), "me": worker_id}
        rows = {row[0]: row for row in (await session.execute(_LOCK_MANY, params)).all()}
        advances: list[tuple[RunState, Advance]] = []
        drop: list[str] = []
        for job in jobs:  # claim order
            row = rows.get(job.id)
            if row is None:  # lease lost: another worker continues it
                log.warning("lease lost on workflow run %s; another worker continues it", job.id)
                continue
            run = RunState(*row)
            run.known_failures = known.get(run.id, {})
            if run.status not in READY_STATUSES:  # finished meanwhile: just drop the lease
                drop.append(run.id)
                continue
            try:
                advance = await _advance(session, run, worker_id, lease_until)
            except RetrySegment as retry:
                retry.run_id = run.id
                raise
            advances.append((run, advance))
            if not advance.done:
                continuing.append(job)
        await _save(session, worker_id, advances)
        if drop:
            await session.execute(_DROP, {"ws": workspace_id, "ids": drop, "me": worker_id})
    _log_finished(advances)
    return continuing


def _log_finished(advances: list[tuple[RunState, Advance]]) -> None:
    """One log line per run that finished (after its commit): info when it succeeded, a
    warning naming the error when it failed; ids as structured fields."""
    for run, advance in advances:
        if advance.event is None:
            continue
        fields = {
            "run_id": run.id,
            "workflow_id": run.workflow_id,
            "workspace_id": run.workspace_id,
            "status": str(run.status),
            "steps_succeeded": run.steps_succeeded,
            "steps_failed": run.steps_failed,
        }
        if run.status == RunStatus.failed:
            log.warning(
                "workflow run %s of %s failed: %s: %s",
                run.id,
                run.workflow_id,
                run.error_code,
                run.error_message,
                extra={**fields, "error_code": run.error_code},
            )
        else:
            log.info(
                "workflow run %s of %s succeeded (%d steps)",
                run.id,
                run.workflow_id,
                run.steps_succeeded,
                extra=fields,
            )


async def handle(runtime: Runtime, job: ClaimedJob) -> None:
    """The queue handler: execute, and keep a crash-looping run from cycling forever."""
    try:
        if job.attempts > MAX_CLAIMS_WITHOUT_PROGRESS:
            await _give_up(runtime, job)
            return
        await execute(runtime, job)
    except LeaseLost:
        log.warning("lease lost on workflow run %s; another worker continues it", job.id)
    except Exception:
        log.exception("workflow run %s crashed (claim %d); retrying later", job.id, job.attempts)
        backoff = min(60.0, 2.0 ** min(job.attempts, 6))
        await release(runtime.db, job, run_after=utcnow() + timedelta(seconds=backoff))


async def handle_batch(runtime: Runtime, jobs: list[ClaimedJob]) -> None:
    """The batch handler: segments of all ``jobs`` in shared transactions; on an
    unexpected error the runs fall back to ``handle`` one by one (isolating the culprit)."""
    pending = []
    for job in jobs:
        if job.attempts > MAX_CLAIMS_WITHOUT_PROGRESS:
            await handle(runtime, job)  # gives up on it
        else:
            pending.append(job)
    lease_seconds = runtime.settings.job_lease_seconds
    known: dict[str, dict[int, StepResult]] = {}
    while pending:
        try:
            pending = await _batch_segment(runtime.db, pending, lease_seconds, known)
        except RetrySegment as retry:
            known.setdefault(retry.run_id, {})[retry.index] = retry.result
        except Exception:
            log.exception(
                "a batch of %d workflow runs failed; executing them one by one", len(pending)
            )
            for job in pending:
                await handle(runtime, job)
            return


async def _give_up(runtime: Runtime, job: ClaimedJob) -> None:
    async with runtime.db.session(job.workspace_id) as session:
        run = await lock_run(session, job, runtime.settings.job_lease_seconds)
        if run.status not in READY_STATUSES:
            await finish(session, job)
            return
        run.error_code = "internal_error"
        run.error_message = (
            f"The run could not make progress after {job.attempts - 1} attempts; "
            "it was stopped. Quote the run id when reporting it."
        )
        advance = _finished(run, utcnow(), total=recipes.step_count(run.recipe))
        await _save(session, job.worker_id, [(run, advance)])
    _log_finished([(run, advance)])
