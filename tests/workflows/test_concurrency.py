"""Concurrency claims on PostgreSQL: the daily cap under 200 concurrent triggers, and several
workers sharing one queue without executing any step twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from core.runtime import Runtime
from core.workflows import engine
from core.workflows.models import WorkflowDailyUsage, WorkflowRun
from tests.factories import make_tenant, owner_session
from tests.workflows.helpers import (
    LOG_ONLY,
    create_workflow,
    op,
    run_events,
    running_worker,
    trigger,
    wait_finished,
)

pytestmark = pytest.mark.postgres


def require_postgres(runtime: Runtime) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("PostgreSQL-only concurrency test (SQLite serialises writers anyway)")


async def test_daily_cap_holds_under_200_concurrent_triggers(runtime: Runtime) -> None:
    require_postgres(runtime)
    growth = await make_tenant(runtime, name="Mid", plan="growth")
    wf = await create_workflow(runtime, growth.workspace_id, LOG_ONLY)
    statuses: list[int] = []

    async def one() -> None:
        outcome = await op(runtime, "trigger_workflow", growth.token, workflow_id=wf)
        statuses.append(outcome.status)
        if outcome.status != 202:
            assert outcome.body["error"]["code"] == "daily_workflow_cap_reached", outcome.body

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(one)
    assert Counter(statuses) == {202: 100, 429: 100}
    async with owner_session(runtime) as session:
        runs = (await session.execute(select(func.count()).select_from(WorkflowRun))).scalar_one()
        usage = (await session.execute(select(WorkflowDailyUsage.count))).scalar_one()
    assert runs == 100 and usage == 100


async def test_three_workers_execute_each_step_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgres(runtime)
    tenant = await make_tenant(runtime, name="Busy", plan="custom")
    recipe = {
        "steps": [{"type": "log", "message": f"step {i} of {{{{input.n}}}}"} for i in range(3)]
    }
    wf = await create_workflow(runtime, tenant.workspace_id, recipe)
    run_ids: list[str] = []
    for batch in range(3):
        run_ids += await trigger(runtime, tenant.workspace_id, wf, {"n": batch}, count=100)

    executed: Counter[tuple[str, int]] = Counter()
    original = engine.run_step

    async def counting(session: Any, run: Any, index: int, step: Any) -> Any:
        executed[(run.id, index)] += 1
        return await original(session, run, index, step)

    monkeypatch.setattr(engine, "run_step", counting)
    async with (
        running_worker(runtime, concurrency=4, worker_id="w1") as w1,
        running_worker(runtime, concurrency=4, worker_id="w2") as w2,
        running_worker(runtime, concurrency=4, worker_id="w3") as w3,
    ):
        runs = await wait_finished(runtime, tenant.workspace_id, run_ids, timeout=120)
    assert all(r.status == "succeeded" for r in runs)
    assert executed == {(rid, i): 1 for rid in run_ids for i in range(3)}
    for r in runs:
        assert [s["index"] for s in r.steps] == [0, 1, 2]
    events = await run_events(runtime, tenant.workspace_id)
    assert events == {(rid, "workflow_run.succeeded"): 1 for rid in run_ids}
    # The queue was actually shared.
    assert sum(1 for w in (w1, w2, w3) if w.processed) >= 2
