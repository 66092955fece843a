"""Scale-out proof (PostgreSQL + Redis): two ``patchbay serve`` processes and two
``patchbay worker`` processes on loopback ports share one database and one Redis.

- A token's rate limit is one count across both servers.
- 500 workflow runs triggered through both servers are each executed exactly once (one
  record per step, one ``workflow_run.succeeded`` event per run).
- Their 500 webhook events are each delivered exactly once (no ``webhook-id`` twice).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import asyncpg
import httpx
import pytest
import uvicorn

from tests.conftest import PG_URL, REDIS_URL, _admin_execute, need_service
from tests.contract.server import cli, free_port, patchbay_exe, wait_healthy

pytestmark = pytest.mark.slow

RUNS = 500
BATCH = 50
SAMPLE = 50  # runs also read back over the API
EVENT = "scale.pulse"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    stderr: IO[bytes]

    def output(self) -> str:
        self.stderr.flush()
        return Path(self.stderr.name).read_text(errors="replace")[-4000:]

    def assert_alive(self) -> None:
        code = self.popen.poll()
        assert code is None, f"{self.name} exited with {code}; stderr:\n{self.output()}"


@dataclass
class Cluster:
    servers: list[str]
    env: dict[str, str]
    workspace_id: str
    database_url: str
    workers: list[Proc] = field(default_factory=list)

    def assert_workers_alive(self) -> None:
        for worker in self.workers:
            worker.assert_alive()


@contextmanager
def _process(name: str, args: list[str], env: dict[str, str]) -> Iterator[Proc]:
    """A ``patchbay`` subprocess whose stderr goes to a temp file (shown on failure)."""
    with tempfile.NamedTemporaryFile(prefix=f"patchbay-{name}-", suffix=".log") as log:
        popen = subprocess.Popen(
            [patchbay_exe(), *args], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            yield Proc(name, popen, log)
        finally:
            popen.terminate()
            try:
                popen.wait(15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(5)


def _wait_started(proc: Proc, marker: str, timeout: float = 30) -> None:
    """Wait (bounded) until ``marker`` appears in the process's stderr; it must not exit."""
    deadline = time.monotonic() + timeout
    while marker not in proc.output():
        proc.assert_alive()
        assert time.monotonic() < deadline, f"{proc.name} did not start:\n{proc.output()}"
        time.sleep(0.05)
    proc.assert_alive()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    admin = need_service(PG_URL, "database")
    redis_url = need_service(REDIS_URL, "redis")
    name = f"pbscale_{secrets.token_hex(4)}"
    _admin_execute(admin, f'CREATE DATABASE "{name}"')
    database_url = admin.rsplit("/", 1)[0] + "/" + name
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_REDIS_URL": redis_url,
        "PATCHBAY_LOG_LEVEL": "WARNING",
        "PATCHBAY_ALLOW_PRIVATE_NETWORK": "true",
        "PATCHBAY_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1",
        "PATCHBAY_WORKER_POLL_SECONDS": "0.05",
    }
    try:
        cli(env, "db", "upgrade")
        workspace = cli(env, "workspace", "create", "Scale", "--plan", "custom")
        with ExitStack() as stack:
            servers = []
            for i in range(2):
                port = free_port()
                proc = stack.enter_context(
                    _process(f"serve{i}", ["serve", "--port", str(port)], env)
                )
                base = f"http://127.0.0.1:{port}"
                try:
                    wait_healthy(base, proc.popen)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}; stderr:\n{proc.output()}") from None
                servers.append(base)
            # INFO so the worker's "started" line shows it is up and claiming.
            worker_env = {**env, "PATCHBAY_LOG_LEVEL": "INFO"}
            workers = [
                stack.enter_context(
                    _process(f"worker{i}", ["worker", "--concurrency", "4"], worker_env)
                )
                for i in range(2)
            ]
            for worker in workers:
                _wait_started(worker, " started: ")
            c = Cluster(servers, env, workspace["id"], database_url, workers)
            yield c
            # Workers must have survived the whole test.
            c.assert_workers_alive()
    finally:
        _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _token(cluster: Cluster, scopes: str = "*", rate_limit: int | None = None) -> str:
    args = ["token", "create", "--workspace", cluster.workspace_id, "--name", "scale"]
    args += ["--scopes", scopes]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    return cli(cluster.env, *args)["token"]


async def test_rate_limit_is_shared_across_servers(cluster: Cluster) -> None:
    limit = 40
    token = _token(cluster, rate_limit=limit)
    headers = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def hit(i: int) -> None:
            r = await client.get(cluster.servers[i % 2] + "/api/v1/me")
            statuses.append(r.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(limit * 2):
                tg.start_soon(hit, i)
    assert statuses.count(200) == limit
    assert statuses.count(429) == limit


# ---------------------------------------------------------------- webhook receiver


class Receiver:
    """An ASGI app that records every delivery (``webhook-id`` header and JSON body)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []
        self.bodies: dict[str, bytes] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["path"] == "/hook" and "webhook-id" in headers:
            with self.lock:
                self.ids.append(headers["webhook-id"])
                self.bodies[headers["webhook-id"]] = body
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    """Serve a ``Receiver`` on a free loopback port (uvicorn in a thread)."""
    receiver = Receiver()
    port = free_port()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "receiver exited"
        assert time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.02)
    try:
        yield receiver, f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- exactly once


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def _in_batches(count: int, fn: Any) -> None:
    """``fn(i)`` for i in range(count), at most BATCH at a time."""
    for start in range(0, count, BATCH):
        async with anyio.create_task_group() as tg:
            for i in range(start, min(count, start + BATCH)):
                tg.start_soon(fn, i)


async def _scalar(conn: asyncpg.Connection, sql: str, *args: Any) -> Any:
    return await conn.fetchval(sql, *args)


async def test_runs_and_webhook_deliveries_happen_exactly_once(cluster: Cluster) -> None:
    token = _token(cluster, rate_limit=1_000_000)
    servers = cluster.servers
    conn = await asyncpg.connect(cluster.database_url)
    try:
        with receiving() as (receiver, hook_url):
            async with httpx.AsyncClient(
                headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                _ok(
                    await client.post(
                        servers[0] + "/api/v1/integrations/events", json={"key": EVENT}
                    ),
                    201,
                )
                endpoint = _ok(
                    await client.post(
                        servers[1] + "/api/v1/webhooks",
                        json={"name": "receiver", "url": hook_url, "event_types": [EVENT]},
                    ),
                    201,
                )
                recipe = {
                    "steps": [
                        {"type": "log", "message": "run {{input.n}}"},
                        {
                            "type": "fire_webhook_event",
                            "event": EVENT,
                            "payload": {"n": "{{input.n}}"},
                        },
                    ]
                }
                workflow = _ok(
                    await client.post(
                        servers[0] + "/api/v1/workflows", json={"name": "Scale", "recipe": recipe}
                    ),
                    201,
                )

                run_ids: dict[int, str] = {}

                async def trigger(i: int) -> None:
                    r = await client.post(
                        f"{servers[i % 2]}/api/v1/workflows/{workflow['id']}/runs",
                        json={"input": {"n": str(i)}},
                    )
                    run_ids[i] = (_ok(r, 202))["id"]

                await _in_batches(RUNS, trigger)
                assert len(set(run_ids.values())) == RUNS

                # Every run finishes (bounded poll on the database; no fixed sleeps).
                with anyio.fail_after(120):
                    while True:
                        rows = await conn.fetch(
                            "SELECT status, count(*) AS n FROM workflow_runs GROUP BY status"
                        )
                        by_status = {r["status"]: r["n"] for r in rows}
                        assert not by_status.get("failed"), by_status
                        if by_status.get("succeeded") == RUNS:
                            break
                        cluster.assert_workers_alive()
                        await anyio.sleep(0.2)

                # One record per step index for every run (the database, all 500 runs)...
                steps = await conn.fetch(
                    "SELECT r.id, array_agg((s->>'index')::int ORDER BY (s->>'index')::int) AS ix,"
                    " bool_and(s->>'status' = 'succeeded') AS ok"
                    " FROM workflow_runs r, jsonb_array_elements(r.steps) s GROUP BY r.id"
                )
                assert {r["id"] for r in steps} == set(run_ids.values())
                bad = [dict(r) for r in steps if r["ix"] != [0, 1] or not r["ok"]]
                assert not bad, bad[:5]

                # ... and the same read back over the API through both servers (a sample).
                async def check_run(i: int) -> None:
                    r = await client.get(f"{servers[i % 2]}/api/v1/workflow-runs/{run_ids[i]}")
                    run = _ok(r, 200)
                    assert run["status"] == "succeeded", run
                    assert sorted(s["index"] for s in run["steps"]) == [0, 1], run
                    assert all(s["status"] == "succeeded" for s in run["steps"]), run
                    assert (run["steps_succeeded"], run["steps_failed"]) == (2, 0), run
                    fired = next(s for s in run["steps"] if s["index"] == 1)
                    assert fired["output"]["matched_endpoints"] == 1, run

                await _in_batches(SAMPLE, lambda i: check_run(i * (RUNS // SAMPLE)))

            # One workflow_run.succeeded event per run.
            events = await conn.fetch(
                "SELECT data->>'run_id' AS run_id, count(*) AS n FROM domain_events "
                "WHERE type = 'workflow_run.succeeded' GROUP BY 1"
            )
            assert {e["run_id"]: e["n"] for e in events} == {r: 1 for r in run_ids.values()}

            # Every event delivered: the receiver has 500 distinct ids and the table agrees.
            with anyio.fail_after(90):
                while True:
                    delivered = await _scalar(
                        conn,
                        "SELECT count(*) FROM webhook_deliveries "
                        "WHERE endpoint_id = $1 AND status = 'succeeded'",
                        endpoint["id"],
                    )
                    with receiver.lock:
                        received = len(set(receiver.ids))
                    if delivered == RUNS and received == RUNS:
                        break
                    cluster.assert_workers_alive()
                    await anyio.sleep(0.2)

            rows = await conn.fetch(
                "SELECT id, event_id, status, event_type FROM webhook_deliveries "
                "WHERE endpoint_id = $1",
                endpoint["id"],
            )
            assert len(rows) == RUNS
            assert {r["status"] for r in rows} == {"succeeded"}
            assert {r["event_type"] for r in rows} == {EVENT}
            assert len({r["event_id"] for r in rows}) == RUNS  # one row per event
            with receiver.lock:
                ids = list(receiver.ids)
                bodies = dict(receiver.bodies)
            duplicates = [i for i, n in Counter(ids).items() if n > 1]
            assert not duplicates, f"webhook-ids delivered twice: {duplicates[:10]}"
            assert set(ids) == {r["id"] for r in rows}
            # Each run's event arrived: the payload names every run input exactly once.
            ns = sorted(int(json.loads(b)["data"]["n"]) for b in bodies.values())
            assert ns == list(range(RUNS))
    finally:
        await conn.close()
