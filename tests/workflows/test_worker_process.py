"""`patchbay worker` as a real process: crash recovery after SIGKILL, graceful SIGTERM, and
the `patchbay workflow` commands."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.runtime import Runtime
from core.workflows.models import WorkflowRun
from patchbay.cli import app
from tests.factories import Tenant, owner_session
from tests.workflows.helpers import create_workflow, run_events, trigger, wait_finished

pytestmark = pytest.mark.slow

PATCHBAY = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))


def worker_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_JOB_LEASE_SECONDS": "2",
        "PATCHBAY_WORKER_POLL_SECONDS": "0.1",
        "PATCHBAY_LOG_LEVEL": "WARNING",
    }


@contextmanager
def worker_process(database_url: str, concurrency: int = 4) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [PATCHBAY, "worker", "--concurrency", str(concurrency)],
        env=worker_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


RECIPE = {
    "steps": [
        {"type": "log", "message": "one {{input.i}}"},
        {"type": "delay", "seconds": 1},
        {"type": "log", "message": "two"},
        {"type": "delay", "seconds": 2},
        {"type": "log", "message": "three"},
    ]
}


async def test_killed_worker_loses_no_run(runtime: Runtime, tenant: Tenant) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, RECIPE)
    run_ids: list[str] = []
    for i in range(20):
        run_ids += await trigger(runtime, tenant.workspace_id, wf, {"i": i})
    url = runtime.settings.database_url

    with worker_process(url) as first:
        with anyio.fail_after(30):  # wait until several runs are part-way through
            while True:
                async with owner_session(runtime) as session:
                    mid = (
                        await session.execute(
                            select(WorkflowRun.id).where(
                                WorkflowRun.status == "running", WorkflowRun.next_step >= 2
                            )
                        )
                    ).all()
                if len(mid) >= 5:
                    break
                assert first.poll() is None, first.stderr.read() if first.stderr else ""
                await anyio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    async with owner_session(runtime) as session:
        unfinished = (
            await session.execute(
                select(WorkflowRun.id).where(WorkflowRun.status.in_(("queued", "running")))
            )
        ).all()
    assert unfinished, "the first worker finished everything before it was killed"

    with worker_process(url):
        runs = await wait_finished(runtime, tenant.workspace_id, run_ids, timeout=90)

    assert [r.status for r in runs] == ["succeeded"] * len(run_ids)
    for r in runs:
        assert [s["index"] for s in r.steps] == [0, 1, 2, 3, 4], r.steps
        assert r.steps[0]["output"]["message"] == f"one {run_ids.index(r.id)}"
        assert (r.steps_succeeded, r.steps_failed) == (5, 0)
        assert r.locked_by is None
    events = await run_events(runtime, tenant.workspace_id)
    assert events == {(rid, "workflow_run.succeeded"): 1 for rid in run_ids}


async def test_sigterm_stops_the_worker_gracefully(runtime: Runtime, tenant: Tenant) -> None:
    wf = await create_workflow(
        runtime, tenant.workspace_id, {"steps": [{"type": "log", "message": "x"}]}
    )
    run_ids = await trigger(runtime, tenant.workspace_id, wf)
    with worker_process(runtime.settings.database_url) as proc:
        await wait_finished(runtime, tenant.workspace_id, run_ids, timeout=30)  # it is up
        proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):
            while proc.poll() is None:
                await anyio.sleep(0.05)
        assert proc.returncode == 0


def test_workflow_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in worker_env(database_url).items():
        if key.startswith("PATCHBAY_"):
            monkeypatch.setenv(key, value)
    runner = CliRunner()

    def cli(*args: str) -> dict | list:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    workspace = cli("workspace", "create", "CLI Co", "--plan", "growth")["id"]
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"type": "log", "message": "hi {{input.who}}"}]}))
    wf = cli(
        "workflow", "create", "--workspace", workspace, "--name", "Hello", "--recipe", str(recipe)
    )
    assert wf["status"] == "active" and wf["id"].startswith("wf_")
    off = cli(
        "workflow",
        "create",
        "--workspace",
        workspace,
        "--name",
        "Off",
        "--recipe",
        str(recipe),
        "--inactive",
    )
    assert off["status"] == "inactive"
    listed = cli("workflow", "list", "--workspace", workspace)
    assert {w["id"] for w in listed} == {wf["id"], off["id"]}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"type": "shell"}]}))
    result = runner.invoke(
        app, ["workflow", "create", "--workspace", workspace, "--name", "x", "--recipe", str(bad)]
    )
    assert result.exit_code == 1 and "step_type_not_allowed" in result.output

    result = runner.invoke(app, ["workflow", "run", off["id"], "--workspace", workspace])
    assert result.exit_code == 1 and "workflow_inactive" in result.output

    with worker_process(database_url, concurrency=1):
        run = cli(
            "workflow",
            "run",
            wf["id"],
            "--workspace",
            workspace,
            "--input",
            '{"who": "Ada"}',
            "--wait",
            "--timeout",
            "30",
        )
    assert run["status"] == "succeeded" and run["channel"] == "cli"
    assert run["steps"][0]["output"] == {"message": "hi Ada"}
