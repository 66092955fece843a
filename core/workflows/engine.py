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
A ``delay`` step is recorded as succeeded, the run gets ``run_after = now + seconds`` and
the lease is dropped, all in one transaction; the worker is free at once.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.errors import DomainError
from core.events.service import emit
from core.jobs.queue import ClaimedJob, finish, release
from core.workflows import recipes
from core.workflows.models import READY_STATUSES, RunStatus, WorkflowRun

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("patchbay.workflows")

SEGMENT_STEPS = 50
"""Most consecutive non-delay steps executed and committed in one transaction."""
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

    def __init__(self, index: int, result: StepResult) -> None:
        super().__init__(index)
        self.index = index
        self.result = result


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
)


def _mine(job: ClaimedJob) -> Any:
    """``core.jobs.queue.owned`` on the table's columns."""
    return (_RUNS.c.id == job.id) & (_RUNS.c.locked_by == job.worker_id)


async def lock_run(session: AsyncSession, job: ClaimedJob, lease_seconds: float) -> RunState:
    """Refresh our lease and load the run, row-locking it; ``LeaseLost`` if not ours."""
    # Core statements on the table (not ORM-enabled): the same SQL, less Python per run.
    row = (
        await session.execute(
            update(_RUNS)
            .where(_mine(job))
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            .returning(*_COLUMNS)
        )
    ).first()
    if row is None:
        raise LeaseLost(job.id)
    return RunState(*row)


def event_id_for(run_id: str, index: int) -> str:
    """A deterministic ``evt_…`` id per (run, step index): a repeated step reuses it."""
    digest = int.from_bytes(hashlib.sha256(f"{run_id}:{index}".encode()).digest()[:17], "big")
    return "evt_" + "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(26))


_fanout_cache: list[Any] = []


def _fanout() -> tuple[Any, bool] | None:
    """``(enqueue_event, accepts_event_id)`` from the webhook domain, or None."""
    if not _fanout_cache:
        try:
            from core.webhooks.fanout import enqueue_event
        except ImportError:
            _fanout_cache.append(None)
        else:
            params = inspect.signature(enqueue_event).parameters
            _fanout_cache.append((enqueue_event, "event_id" in params))
    return _fanout_cache[0]


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
    problem = recipes.event_name_problem(event)
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
    fanout = _fanout()
    matched = 0
    if fanout is not None:
        enqueue_event, accepts_event_id = fanout
        kwargs = {"event_id": event_id} if accepts_event_id else {}
        try:
            matched = int(await enqueue_event(session, run.workspace_id, event, payload, **kwargs))
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
        "finished_at": finished.isoformat(),
    }
    if result.output is not None:
        entry["output"] = result.output
    if result.error is not None:
        entry["error"] = result.error
    # Same index, same slot: a repeated step can never add a second record.
    run.steps = [s for s in run.steps if s.get("index") != index] + [entry]
    run.next_step = index + 1
    if result.status == "succeeded":
        run.steps_succeeded += 1
    else:
        run.steps_failed += 1
        if run.error_code is None:
            run.error_code = result.error["code"] if result.error else "step_failed"
            run.error_message = (
                f"Step {index} ({step_type}) failed: "
                + (result.error["message"] if result.error else "")
            )[:2000]


def _progress(run: RunState) -> dict[str, Any]:
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
    }


async def _finalize(
    session: AsyncSession, job: ClaimedJob, run: RunState, now: datetime, *, total: int
) -> None:
    run.status = RunStatus.failed if run.error_code else RunStatus.succeeded
    values = _progress(run)
    values.update(status=run.status, finished_at=now)
    if not await finish(session, job, **values):
        raise LeaseLost(job.id)
    await emit(
        session,
        run.workspace_id,
        f"workflow_run.{run.status}",
        {
            "run_id": run.id,
            "workflow_id": run.workflow_id,
            "status": run.status,
            "steps_total": total,
            "steps_succeeded": run.steps_succeeded,
            "steps_failed": run.steps_failed,
            "error_code": run.error_code,
            "error_message": run.error_message,
        },
    )


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
    async with db.session() as session:  # explicit ids; no tenant-filter overhead
        run = await lock_run(session, job, lease_seconds)
        run.known_failures = known_failures
        if run.status not in READY_STATUSES:  # finished meanwhile: just drop the lease
            await finish(session, job)
            return True
        now = utcnow()
        if run.status == RunStatus.queued:
            run.status = RunStatus.running
            run.started_at = now
        try:
            recipe = recipes.parse_recipe(run.recipe)
        except DomainError as exc:  # a stored recipe that is (no longer) valid
            run.error_code, run.error_message = exc.code, exc.message
            await _finalize(session, job, run, now, total=recipes.step_count(run.recipe))
            return True
        steps = recipe.steps
        done_in_segment = 0
        stop = False
        while run.next_step < len(steps) and done_in_segment < SEGMENT_STEPS:
            index = run.next_step
            step = steps[index]
            started = utcnow()
            if isinstance(step, recipes.DelayStep):
                resume_at = started + timedelta(seconds=step.seconds)
                result = StepResult(
                    "succeeded", {"seconds": step.seconds, "resume_at": resume_at.isoformat()}
                )
                _record(run, index, step.type, result, started, resume_at)
                # Hand the run back to the queue until the pause is over.
                if not await finish(session, job, run_after=resume_at, **_progress(run)):
                    raise LeaseLost(job.id)
                return True
            result = await run_step(session, run, index, step)
            _record(run, index, step.type, result, started, utcnow())
            done_in_segment += 1
            if result.status == "failed" and not recipe.continue_on_error:
                stop = True
                break
        if stop or run.next_step >= len(steps):
            await _finalize(session, job, run, utcnow(), total=len(steps))
            return True
        await session.execute(update(_RUNS).where(_mine(job)).values(**_progress(run)))
        return False


async def handle(runtime: Runtime, job: ClaimedJob) -> None:
    """The queue handler: execute, and keep a crash-looping run from cycling forever."""
    _fanout()  # imports the webhook domain, whose subscriber fans out workflow_run.* events
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


async def _give_up(runtime: Runtime, job: ClaimedJob) -> None:
    async with runtime.db.session() as session:
        run = await lock_run(session, job, runtime.settings.job_lease_seconds)
        if run.status not in READY_STATUSES:
            await finish(session, job)
            return
        run.error_code = "internal_error"
        run.error_message = (
            f"The run could not make progress after {job.attempts - 1} attempts; "
            "it was stopped. Quote the run id when reporting it."
        )
        await _finalize(session, job, run, utcnow(), total=recipes.step_count(run.recipe))
