"""Workflows and runs on both engines: validation, lifecycle, failures, delays, caps, tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, update

from core.db import utcnow
from core.operations import Channel
from core.runtime import Runtime
from core.workflows.models import WorkflowDailyUsage, WorkflowRun
from core.workflows.service import seconds_until_next_utc_day
from tests.factories import Tenant, make_tenant, owner_session
from tests.workflows.helpers import (
    FIRED,
    LOG_ONLY,
    create_workflow,
    get_run,
    op,
    register_event_type,
    run_events,
    running_worker,
    trigger,
    wait_finished,
)

API = "/api/v1"


def steps(n: int) -> list[dict[str, Any]]:
    return [{"type": "log", "message": f"step {i}"} for i in range(n)]


# ---------------------------------------------------------------- saving recipes


@pytest.mark.parametrize(
    ("recipe", "code", "details"),
    [
        (
            {"steps": [{"type": "log", "message": "a"}, {"type": "shell", "command": "rm"}]},
            "step_type_not_allowed",
            {"index": 1, "type": "shell"},
        ),
        ({"steps": steps(51)}, "recipe_too_large", {"index": 50, "max_steps": 50, "steps": 51}),
        (
            {"steps": [{"type": "log", "message": "a"}, {"type": "delay", "seconds": 0}]},
            "recipe_invalid",
            {"index": 1, "field": "seconds"},
        ),
        (
            {"steps": [{"type": "delay", "seconds": 31}]},
            "recipe_invalid",
            {"index": 0, "field": "seconds"},
        ),
        (
            {"steps": [{"type": "delay", "seconds": "5"}]},
            "recipe_invalid",
            {"index": 0, "field": "seconds"},
        ),
        ({"steps": [{"type": "log"}]}, "recipe_invalid", {"index": 0, "field": "message"}),
        (
            {"steps": [{"type": "log", "message": "a", "extra": 1}]},
            "recipe_invalid",
            {"index": 0, "field": "extra"},
        ),
        (
            {"steps": [{"type": "fire_webhook_event", "event": "Not An Event", "payload": {}}]},
            "recipe_invalid",
            {"index": 0, "field": "event"},
        ),
        ({"steps": []}, "recipe_invalid", {"field": "steps"}),
        ({"steps": steps(1), "loop": True}, "recipe_invalid", {"field": "loop"}),
        ({"steps": steps(1), "continue_on_error": "yes"}, "recipe_invalid", {}),
    ],
)
async def test_bad_recipes_are_rejected_with_step_index(
    client: httpx.AsyncClient,
    tenant: Tenant,
    recipe: dict[str, Any],
    code: str,
    details: dict[str, Any],
) -> None:
    r = await client.post(
        f"{API}/workflows", json={"name": "bad", "recipe": recipe}, headers=tenant.headers
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code
    for key, value in details.items():
        assert error["details"][key] == value
    listed = await client.get(f"{API}/workflows", headers=tenant.headers)
    assert listed.json()["data"] == []


async def test_patch_validates_recipe_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        f"{API}/workflows", json={"name": "ok", "recipe": LOG_ONLY}, headers=tenant.headers
    )
    wf = r.json()["data"]["id"]
    r = await client.patch(
        f"{API}/workflows/{wf}",
        json={"recipe": {"steps": [{"type": "http_get", "url": "http://x"}]}},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "step_type_not_allowed"
    got = await client.get(f"{API}/workflows/{wf}", headers=tenant.headers)
    assert got.json()["data"]["recipe"]["steps"] == LOG_ONLY["steps"]


async def test_create_get_list_update(client: httpx.AsyncClient, tenant: Tenant) -> None:
    recipe = {
        "steps": [
            {"type": "log", "message": "go"},
            {"type": "delay", "seconds": 2},
            {"type": "fire_webhook_event", "event": "campaign.kickoff", "payload": {"a": 1}},
        ]
    }
    r = await client.post(
        f"{API}/workflows",
        json={"name": " Kickoff ", "description": "d", "recipe": recipe},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    wf = r.json()["data"]
    assert wf["id"].startswith("wf_") and wf["status"] == "active" and wf["name"] == "Kickoff"
    assert wf["recipe"] == {"continue_on_error": False, **recipe}

    r = await client.post(
        f"{API}/workflows",
        json={"name": "Off", "recipe": LOG_ONLY, "status": "inactive"},
        headers=tenant.headers,
    )
    off = r.json()["data"]["id"]

    r = await client.get(f"{API}/workflows", headers=tenant.headers)
    assert [(w["id"], w["step_count"]) for w in r.json()["data"]] == [(off, 1), (wf["id"], 3)]
    assert "recipe" not in r.json()["data"][0]
    r = await client.get(f"{API}/workflows?status=inactive", headers=tenant.headers)
    assert [w["id"] for w in r.json()["data"]] == [off]

    r = await client.patch(
        f"{API}/workflows/{off}", json={"status": "active", "name": "On"}, headers=tenant.headers
    )
    assert r.status_code == 200 and r.json()["data"]["status"] == "active"
    assert r.json()["data"]["name"] == "On"
    r = await client.get(f"{API}/workflows/{wf['id']}", headers=tenant.headers)
    assert r.json()["data"]["recipe"]["steps"][1] == {"type": "delay", "seconds": 2}


# ---------------------------------------------------------------- running


async def test_run_lifecycle_queued_running_succeeded(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    recipe = {
        "steps": [
            {"type": "log", "message": "Hi {{input.who.name}}, {{input.missing}}!"},
            {"type": "delay", "seconds": 2},
            {"type": "log", "message": "tags={{input.tags}} n={{input.n}}"},
        ]
    }
    wf = await create_workflow(runtime, tenant.workspace_id, recipe)
    r = await client.post(
        f"{API}/workflows/{wf}/runs",
        json={"input": {"who": {"name": "Ada"}, "tags": ["a", "b"], "n": 3}},
        headers=tenant.headers,
    )
    assert r.status_code == 202, r.text
    run = r.json()["data"]
    assert run["id"].startswith("run_") and run["status"] == "queued"
    assert run["channel"] == "rest" and run["token_name"] == "test token"
    assert run["steps_total"] == 3
    run_id = run["id"]
    assert (await get_run(runtime, tenant.workspace_id, run_id)).status == "queued"

    async with running_worker(runtime):
        with anyio.fail_after(15):  # observe the run paused mid-way, still "running"
            while True:
                row = await get_run(runtime, tenant.workspace_id, run_id)
                if row.status == "running" and row.next_step == 2:
                    break
                assert row.status in ("queued", "running"), row.status
                await anyio.sleep(0.02)
        assert row.started_at is not None and row.finished_at is None
        assert row.locked_by is None  # the delay released the worker
        # The API tells the truth about the pause: waiting until resume_at, not finished.
        paused = (await client.get(f"{API}/workflow-runs/{run_id}", headers=tenant.headers)).json()
        delay = paused["data"]["steps"][1]
        assert delay["status"] == "waiting", delay
        assert "finished_at" not in delay and delay["resume_at"] > delay["started_at"]
        assert delay["resume_at"] > utcnow().isoformat().replace("+00:00", "Z")[:19]
        assert paused["data"]["steps_succeeded"] == 1
        (done,) = await wait_finished(runtime, tenant.workspace_id, [run_id])

    assert done.status == "succeeded"
    assert (done.steps_succeeded, done.steps_failed, done.error_code) == (3, 0, None)
    r = await client.get(f"{API}/workflow-runs/{run_id}", headers=tenant.headers)
    body = r.json()["data"]
    assert [s["index"] for s in body["steps"]] == [0, 1, 2]
    assert body["steps"][0]["output"] == {"message": "Hi Ada, !"}
    assert body["steps"][2]["output"] == {"message": 'tags=["a","b"] n=3'}
    assert body["steps"][1]["output"]["seconds"] == 2
    assert all(s["status"] == "succeeded" for s in body["steps"])
    assert body["started_at"] <= body["finished_at"]
    assert await run_events(runtime, tenant.workspace_id) == {(run_id, "workflow_run.succeeded"): 1}


FAILING = {
    "steps": [
        {"type": "log", "message": "before"},
        {"type": "fire_webhook_event", "event": "{{input.event}}", "payload": {}},
        {"type": "log", "message": "after"},
    ]
}


async def test_run_stops_at_first_failed_step(runtime: Runtime, tenant: Tenant) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, FAILING)
    (run_id,) = await trigger(runtime, tenant.workspace_id, wf, {"event": "Bad Name"})
    async with running_worker(runtime):
        (run,) = await wait_finished(runtime, tenant.workspace_id, [run_id])
    assert run.status == "failed"
    assert run.error_code == "event_type_invalid" and "Step 1" in (run.error_message or "")
    assert [(s["index"], s["status"]) for s in run.steps] == [(0, "succeeded"), (1, "failed")]
    assert run.steps[1]["error"]["code"] == "event_type_invalid"
    assert (run.steps_total, run.steps_succeeded, run.steps_failed) == (3, 1, 1)
    assert await run_events(runtime, tenant.workspace_id) == {(run_id, "workflow_run.failed"): 1}


async def test_the_log_has_one_line_per_finished_run(
    runtime: Runtime, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    from patchbay.cli import JsonLogFormatter

    good = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    bad = await create_workflow(runtime, tenant.workspace_id, FAILING)
    (ok_id,) = await trigger(runtime, tenant.workspace_id, good, {"name": "x"})
    (bad_id,) = await trigger(runtime, tenant.workspace_id, bad, {"event": "Bad Name"})
    with caplog.at_level(logging.INFO, logger="patchbay.workflows"):
        async with running_worker(runtime):
            await wait_finished(runtime, tenant.workspace_id, [ok_id, bad_id])
    lines = {
        r.run_id: r  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "patchbay.workflows" and hasattr(r, "run_id")
    }
    assert set(lines) == {ok_id, bad_id}
    assert lines[ok_id].levelname == "INFO" and "succeeded" in lines[ok_id].getMessage()
    failed = lines[bad_id]
    assert failed.levelname == "WARNING" and "event_type_invalid" in failed.getMessage()
    assert bad in failed.getMessage()
    entry = json.loads(JsonLogFormatter().format(failed))  # PATCHBAY_LOG_FORMAT=json
    assert entry["run_id"] == bad_id and entry["workflow_id"] == bad
    assert entry["workspace_id"] == tenant.workspace_id and entry["status"] == "failed"
    assert entry["error_code"] == "event_type_invalid" and entry["level"] == "WARNING"


async def test_builtin_event_types_are_reserved_for_the_system(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """A recipe may not fire contact.created & co. (receivers could not tell it from a real
    event): refused at save time, and a templated one fails its step when it runs."""
    recipe = {
        "steps": [
            {"type": "log", "message": "x"},
            {"type": "fire_webhook_event", "event": "contact.created", "payload": {"id": "x"}},
        ]
    }
    r = await client.post(
        "/api/v1/workflows", json={"name": "Fake", "recipe": recipe}, headers=tenant.headers
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "event_type_reserved" and error["details"]["index"] == 1
    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    r = await client.patch(
        f"/api/v1/workflows/{wf}", json={"recipe": recipe}, headers=tenant.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_reserved"

    templated = await create_workflow(runtime, tenant.workspace_id, FAILING)
    (run_id,) = await trigger(runtime, tenant.workspace_id, templated, {"event": "lead.converted"})
    async with running_worker(runtime):
        (run,) = await wait_finished(runtime, tenant.workspace_id, [run_id])
    assert run.status == "failed" and run.error_code == "event_type_reserved"
    assert await run_events(runtime, tenant.workspace_id) == {(run_id, "workflow_run.failed"): 1}


async def test_continue_on_error_runs_every_step(runtime: Runtime, tenant: Tenant) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, {**FAILING, "continue_on_error": True})
    # A malformed event name (templated, so only found when the step runs).
    (run_id,) = await trigger(runtime, tenant.workspace_id, wf, {"event": "Nobody Knows"})
    async with running_worker(runtime):
        (run,) = await wait_finished(runtime, tenant.workspace_id, [run_id])
    assert run.status == "failed"
    assert [(s["index"], s["status"]) for s in run.steps] == [
        (0, "succeeded"),
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert run.error_code == run.steps[1]["error"]["code"] == "event_type_invalid"
    assert (run.steps_succeeded, run.steps_failed) == (2, 1)


async def test_fire_step_reports_matched_endpoints(runtime: Runtime, tenant: Tenant) -> None:
    await register_event_type(runtime, tenant.workspace_id)
    recipe = {
        "steps": [
            {
                "type": "fire_webhook_event",
                "event": FIRED,
                "payload": {"campaign": "{{input.campaign}}", "list": ["{{input.campaign}}", 1]},
            }
        ]
    }
    wf = await create_workflow(runtime, tenant.workspace_id, recipe)
    (run_id,) = await trigger(runtime, tenant.workspace_id, wf, {"campaign": "Spring"})
    async with running_worker(runtime):
        (run,) = await wait_finished(runtime, tenant.workspace_id, [run_id])
    assert run.status == "succeeded", run.steps
    output = run.steps[0]["output"]
    assert output["matched_endpoints"] == 0 and output["event"] == FIRED
    assert output["event_id"].startswith("evt_")


@pytest.mark.parametrize(
    ("bad_recipe", "code"),
    [
        (
            {"steps": [{"type": "log", "message": "x"}, {"type": "exec", "cmd": "ls"}]},
            "step_type_not_allowed",
        ),
        ({"steps": steps(51)}, "recipe_too_large"),
    ],
)
async def test_invalid_stored_recipe_fails_the_run(
    runtime: Runtime, tenant: Tenant, bad_recipe: dict[str, Any], code: str
) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    (run_id,) = await trigger(runtime, tenant.workspace_id, wf)
    async with owner_session(runtime) as session:  # corrupt the run's recipe snapshot
        await session.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id).values(recipe=bad_recipe)
        )
    async with running_worker(runtime):
        (run,) = await wait_finished(runtime, tenant.workspace_id, [run_id])
    assert (run.status, run.error_code) == ("failed", code)
    assert run.steps == [] and run.steps_succeeded == 0
    assert await run_events(runtime, tenant.workspace_id) == {(run_id, "workflow_run.failed"): 1}


async def test_delay_does_not_occupy_the_worker(runtime: Runtime, tenant: Tenant) -> None:
    recipe = {"steps": [{"type": "delay", "seconds": 5}, {"type": "log", "message": "done"}]}
    wf = await create_workflow(runtime, tenant.workspace_id, recipe)
    run_ids = await trigger(runtime, tenant.workspace_id, wf, count=2)
    async with running_worker(runtime, concurrency=1):
        runs = await wait_finished(runtime, tenant.workspace_id, run_ids, timeout=30)
    assert all(r.status == "succeeded" for r in runs)
    first_start = min(r.started_at for r in runs if r.started_at)
    last_finish = max(r.finished_at for r in runs if r.finished_at)
    # Sequential sleeping would need >= 10 s; both pauses overlapped on one slot.
    assert last_finish - first_start < timedelta(seconds=7)
    for r in runs:
        assert r.finished_at - r.started_at >= timedelta(seconds=5)


async def test_long_poll_waits_for_the_run(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    (queued_id,) = await trigger(runtime, tenant.workspace_id, wf)
    r = await client.get(f"{API}/workflow-runs/{queued_id}?wait_seconds=1", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["data"]["status"] == "queued"  # no worker yet
    r = await client.get(f"{API}/workflow-runs/{queued_id}?wait_seconds=26", headers=tenant.headers)
    assert r.status_code == 400
    async with running_worker(runtime):
        r = await client.get(
            f"{API}/workflow-runs/{queued_id}?wait_seconds=20", headers=tenant.headers
        )
    assert r.json()["data"]["status"] == "succeeded"


# ---------------------------------------------------------------- gates


async def test_inactive_workflow_cannot_run(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY, status="inactive")
    r = await client.post(f"{API}/workflows/{wf}/runs", json={}, headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "workflow_inactive"
    async with owner_session(runtime) as session:
        assert (await session.execute(select(WorkflowRun))).first() is None
        assert (await session.execute(select(WorkflowDailyUsage))).first() is None


async def test_starter_plan_is_not_entitled(runtime: Runtime) -> None:
    starter = await make_tenant(runtime, name="Small", plan="starter")
    for name, args in [
        ("list_workflows", {}),
        ("create_workflow", {"name": "x", "recipe": LOG_ONLY}),
        ("trigger_workflow", {"workflow_id": "wf_01jd0000000000000000000000"}),
        ("list_workflow_runs", {}),
    ]:
        outcome = await op(runtime, name, starter.token, **args)
        assert outcome.status == 403 and outcome.body["error"]["code"] == "tier_not_entitled"


async def test_daily_cap_growth_plan(runtime: Runtime) -> None:
    growth = await make_tenant(runtime, name="Mid", plan="growth")
    wf = await create_workflow(runtime, growth.workspace_id, LOG_ONLY)
    for i in range(100):
        outcome = await op(runtime, "trigger_workflow", growth.token, workflow_id=wf)
        assert outcome.status == 202, (i, outcome.body)
    outcome = await op(runtime, "trigger_workflow", growth.token, workflow_id=wf)
    assert outcome.status == 429
    assert outcome.body["error"]["code"] == "daily_workflow_cap_reached"
    retry_after = int(outcome.headers["Retry-After"])
    assert 1 <= retry_after <= seconds_until_next_utc_day(utcnow()) + 1
    async with owner_session(runtime) as session:
        runs = (await session.execute(select(WorkflowRun.id))).all()
        usage = (await session.execute(select(WorkflowDailyUsage.count))).scalar_one()
    assert len(runs) == 100 and usage == 100


async def test_run_scope_required(runtime: Runtime, tenant: Tenant) -> None:
    from tests.factories import token_for

    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    reader = await token_for(runtime, tenant, ["workflows:read"])
    outcome = await op(runtime, "trigger_workflow", reader, workflow_id=wf)
    assert outcome.status == 403 and outcome.body["error"]["code"] == "scope_missing"
    runner = await token_for(runtime, tenant, ["workflows:run"])
    outcome = await op(runtime, "trigger_workflow", runner, Channel.rest, workflow_id=wf)
    assert outcome.status == 202
    outcome = await op(runtime, "create_workflow", runner, name="x", recipe=LOG_ONLY)
    assert outcome.status == 403 and outcome.body["error"]["details"]["required_scope"] == (
        "workflows:write"
    )


async def test_cross_workspace_ids_are_not_found(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY)
    (run_id,) = await trigger(runtime, tenant.workspace_id, wf)
    h = other_tenant.headers
    cases = [
        ("GET", f"/workflows/{wf}", None, "workflow_not_found"),
        ("PATCH", f"/workflows/{wf}", {"status": "inactive"}, "workflow_not_found"),
        ("POST", f"/workflows/{wf}/runs", {"input": {}}, "workflow_not_found"),
        ("GET", f"/workflows/{wf}/runs", None, "workflow_not_found"),
        ("GET", f"/workflow-runs/{run_id}", None, "workflow_run_not_found"),
        ("GET", "/workflow-runs/run_01jd0000000000000000000000", None, "workflow_run_not_found"),
    ]
    for method, path, body, code in cases:
        r = await client.request(method, API + path, json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == code
    r = await client.get(f"{API}/workflow-runs?workflow_id={wf}", headers=h)
    assert r.json()["data"] == []
    r = await client.get(f"{API}/workflows", headers=h)
    assert r.json()["data"] == []
    # Nothing was written for the foreign workspace, and the owner's workflow is unchanged.
    async with owner_session(runtime) as session:
        assert len((await session.execute(select(WorkflowRun.id))).all()) == 1
    r = await client.get(f"{API}/workflows/{wf}", headers=tenant.headers)
    assert r.json()["data"]["status"] == "active"


async def test_run_lists(runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant) -> None:
    a = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY, name="a")
    b = await create_workflow(runtime, tenant.workspace_id, LOG_ONLY, name="b")
    a_runs = await trigger(runtime, tenant.workspace_id, a, count=3)
    b_runs = await trigger(runtime, tenant.workspace_id, b, count=2)
    r = await client.get(f"{API}/workflow-runs?limit=4", headers=tenant.headers)
    page = r.json()
    assert [x["id"] for x in page["data"]] == (a_runs + b_runs)[::-1][:4]
    assert "steps" not in page["data"][0]
    r = await client.get(
        f"{API}/workflow-runs?cursor={page['next_cursor']}&limit=4", headers=tenant.headers
    )
    assert [x["id"] for x in r.json()["data"]] == [a_runs[0]]
    r = await client.get(f"{API}/workflows/{b}/runs", headers=tenant.headers)
    assert [x["id"] for x in r.json()["data"]] == b_runs[::-1]
    r = await client.get(
        f"{API}/workflow-runs?workflow_id={a}&status=queued", headers=tenant.headers
    )
    assert len(r.json()["data"]) == 3
    r = await client.get(f"{API}/workflow-runs?status=succeeded", headers=tenant.headers)
    assert r.json()["data"] == []
