"""Batched execution: one claim, one transaction per batch segment, per-run isolation,
and a bounded number of SQL statements per batch."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event, select

from core.db import utcnow
from core.errors import Unprocessable
from core.jobs import claim, extend_leases
from core.runtime import Runtime
from core.workflows import engine
from core.workflows.jobs import QUEUE
from core.workflows.models import WorkflowRun
from tests.factories import Tenant, owner_session
from tests.workflows.helpers import (
    FIRED,
    create_workflow,
    register_event_type,
    run_events,
    trigger,
)

MIXED = {
    "continue_on_error": True,
    "steps": [
        {"type": "log", "message": "one {{input.n}}"},
        {"type": "fire_webhook_event", "event": "{{input.event}}", "payload": {}},
        {"type": "log", "message": "two"},
    ],
}


async def claim_all(runtime: Runtime, limit: int = 50) -> list[Any]:
    return await claim(runtime.db, QUEUE, worker_id="batch-test", lease_seconds=30, limit=limit)


async def load(runtime: Runtime, run_ids: list[str]) -> dict[str, WorkflowRun]:
    async with owner_session(runtime) as session:
        rows = (
            await session.execute(select(WorkflowRun).where(WorkflowRun.id.in_(run_ids)))
        ).scalars()
        return {r.id: r for r in rows}


async def test_a_failing_step_in_one_run_does_not_disturb_the_batch(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register_event_type(runtime, tenant.workspace_id)
    publish = runtime.platform.provided[engine.EVENT_PUBLISHER]

    async def refusing(session: Any, ws: str, event: str, payload: Any, **kw: Any) -> int:
        if event == "nobody.knows":
            raise Unprocessable("Refused by the fan-out.", code="event_refused")
        return int(await publish(session, ws, event, payload, **kw))

    monkeypatch.setitem(runtime.platform.provided, engine.EVENT_PUBLISHER, refusing)  # type: ignore[arg-type]
    wf = await create_workflow(runtime, tenant.workspace_id, MIXED)
    good = await trigger(runtime, tenant.workspace_id, wf, {"n": 1, "event": FIRED}, count=4)
    # The fan-out refuses one run's event: the batch is redone once with that known.
    (bad,) = await trigger(runtime, tenant.workspace_id, wf, {"n": 2, "event": "nobody.knows"})
    jobs = await claim_all(runtime)
    assert len(jobs) == 5
    await engine.handle_batch(runtime, jobs)

    runs = await load(runtime, [*good, bad])
    for rid in good:
        assert runs[rid].status == "succeeded"
        assert [s["index"] for s in runs[rid].steps] == [0, 1, 2]
    assert runs[bad].status == "failed" and runs[bad].error_code == "event_refused"
    assert [(s["index"], s["status"]) for s in runs[bad].steps] == [
        (0, "succeeded"),
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert all(r.locked_by is None and r.lease_until is None for r in runs.values())
    events = await run_events(runtime, tenant.workspace_id)
    assert events == {
        **{(rid, "workflow_run.succeeded"): 1 for rid in good},
        (bad, "workflow_run.failed"): 1,
    }


async def test_a_crashing_run_falls_back_to_one_by_one(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = await create_workflow(
        runtime, tenant.workspace_id, {"steps": [{"type": "log", "message": "{{input.n}}"}]}
    )
    run_ids = await trigger(runtime, tenant.workspace_id, wf, {"n": 1}, count=3)
    (crasher,) = await trigger(runtime, tenant.workspace_id, wf, {"n": 2})
    executed: Counter[str] = Counter()
    original = engine.run_step

    async def flaky(session: Any, run: Any, index: int, step: Any) -> Any:
        executed[run.id] += 1
        if run.id == crasher:
            raise RuntimeError("boom")
        return await original(session, run, index, step)

    monkeypatch.setattr(engine, "run_step", flaky)
    jobs = await claim_all(runtime)
    await engine.handle_batch(runtime, jobs)

    runs = await load(runtime, [*run_ids, crasher])
    for rid in run_ids:
        assert runs[rid].status == "succeeded" and len(runs[rid].steps) == 1
    # The crasher was retried alone, then handed back to the queue with a backoff.
    assert runs[crasher].status in ("queued", "running")
    assert runs[crasher].steps == [] and runs[crasher].locked_by is None
    assert runs[crasher].run_after > utcnow()
    assert executed[crasher] == 2  # once in the batch, once alone
    events = await run_events(runtime, tenant.workspace_id)
    assert events == {(rid, "workflow_run.succeeded"): 1 for rid in run_ids}


async def test_a_batch_takes_a_bounded_number_of_statements(
    runtime: Runtime, tenant: Tenant
) -> None:
    recipe = {
        "steps": [
            {"type": "log", "message": "first {{input.n}}"},
            {"type": "log", "message": "second"},
            {"type": "fire_webhook_event", "event": FIRED, "payload": {}},
        ]
    }
    await register_event_type(runtime, tenant.workspace_id)
    wf = await create_workflow(runtime, tenant.workspace_id, recipe)
    run_ids = await trigger(runtime, tenant.workspace_id, wf, {"n": 1}, count=20)
    jobs = await claim_all(runtime, limit=20)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sync_engine = runtime.db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        await engine.handle_batch(runtime, jobs)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    runs = await load(runtime, run_ids)
    assert all(r.status == "succeeded" for r in runs.values())
    assert sum("integration_event_types" in s for s in statements) == 0  # no registry lookup
    # Lock + load, one executemany save, one event insert and one lookup of the
    # endpoints (cached for the batch).
    assert len(statements) <= 5, statements


async def test_extend_leases_reports_the_rows_still_held(runtime: Runtime, tenant: Tenant) -> None:
    wf = await create_workflow(
        runtime, tenant.workspace_id, {"steps": [{"type": "log", "message": "x"}]}
    )
    await trigger(runtime, tenant.workspace_id, wf, count=3)
    jobs = await claim_all(runtime)
    assert len(jobs) == 3
    await engine.handle_batch(runtime, jobs[:1])  # finishes (and un-leases) the first
    held = await extend_leases(runtime.db, jobs, 30)
    assert held == {jobs[1].id, jobs[2].id}


async def test_a_claim_leases_the_first_workspaces_rows_among_the_earliest_due(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Of the earliest ``limit`` due rows, the first row's workspace's are leased; the
    other workspace's wait for the next claim (one busy workspace cannot fill a batch)."""
    ours = await create_workflow(runtime, tenant.workspace_id, MIXED)
    theirs = await create_workflow(runtime, other_tenant.workspace_id, MIXED)
    order: list[tuple[str, str]] = []
    for n in range(3):  # due in the order A B A B A B
        (a,) = await trigger(runtime, tenant.workspace_id, ours, {"n": n})
        (b,) = await trigger(runtime, other_tenant.workspace_id, theirs, {"n": n})
        order += [(tenant.workspace_id, a), (other_tenant.workspace_id, b)]
    first = await claim_all(runtime, limit=4)
    assert {(j.workspace_id, j.id) for j in first} == {order[0], order[2]}
    second = await claim_all(runtime, limit=4)
    assert {(j.workspace_id, j.id) for j in second} == {order[1], order[3], order[5]}
    third = await claim_all(runtime, limit=4)
    assert {(j.workspace_id, j.id) for j in third} == {order[4]}
