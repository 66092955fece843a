"""Webhook delivery throughput and latency with one ``patchbay worker`` process.

1. Throughput: 5,000 domain events are recorded (fan-out queues one delivery each) with
   no worker running; then one ``patchbay worker`` process starts and the clock runs from
   its "worker started" log line until the receiver has counted every delivery.
   Goal: ≥ 500 deliveries/s.
2. Latency: with the worker running, events are recorded one per transaction at a fixed
   rate; the receiver measures event creation → receipt (p50/p95).

The receiver is a bare ASGI app under uvicorn in its own process on loopback
(``PATCHBAY_ALLOW_PRIVATE_NETWORK=true`` for the worker). PostgreSQL by default (a scratch
database is created and dropped), or ``--database-url sqlite:///…``.

    python bench/webhooks.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--deliveries 5000] [--concurrency 32] [--latency-events 1000] [--rate 200]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVENT_TYPE = "contact.created"


# ------------------------------------------------------------------ receiver process


def run_receiver(port: int) -> None:
    import uvicorn

    latencies: list[float] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        now = time.time()
        out = b"ok"
        if scope["path"] == "/stats":
            data = sorted(latencies)
            out = json.dumps(
                {
                    "count": len(data),
                    "p50_ms": 1000 * data[len(data) // 2] if data else None,
                    "p95_ms": 1000 * data[int(len(data) * 0.95)] if data else None,
                    "max_ms": 1000 * data[-1] if data else None,
                }
            ).encode()
        elif scope["path"] == "/reset":
            latencies.clear()
        else:
            sent_at = json.loads(body)["data"]["sent_at"]
            latencies.append(now - sent_at)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ------------------------------------------------------------------ helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def stats(base: str) -> dict[str, Any]:
    return httpx.get(base + "/stats", timeout=5).json()


async def admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def prepare(database_url: str, receiver_url: str) -> str:
    """Migrate, create a workspace with one endpoint subscribed to contact.created."""
    from core.config import Settings
    from core.migrate import upgrade_async
    from core.runtime import Runtime
    from core.webhooks import service
    from core.webhooks.schemas import CreateWebhookIn
    from core.webhooks.urls import check_endpoint_url
    from patchbay.domains import platform
    from tests.factories import make_workspace

    await upgrade_async(database_url)
    settings = Settings(database_url=database_url, allow_private_network=True)
    runtime = Runtime.create(settings, platform())
    try:
        workspace_id = await make_workspace(runtime, "Bench")
        endpoint = CreateWebhookIn(name="bench", url=receiver_url, event_types=[EVENT_TYPE])
        url = await check_endpoint_url(endpoint.url, settings)
        async with runtime.db.session(workspace_id) as session:
            await service.create_endpoint(session, workspace_id, endpoint, url)
        return workspace_id
    finally:
        await runtime.close()


def open_database(database_url: str) -> Any:
    """A database whose sessions carry the platform, so events reach the webhook domain's
    fan-out subscriber (as in a runtime)."""
    from core.db import Database
    from patchbay.domains import platform

    db = Database(database_url)
    db.platform = platform()
    return db


async def record_events(database_url: str, workspace_id: str, count: int, *, batch: int) -> float:
    """Record ``count`` events, ``batch`` per transaction; returns seconds taken."""
    from core.db import WorkspaceId
    from core.events.service import emit

    db = open_database(database_url)
    ws = WorkspaceId(workspace_id)
    started = time.perf_counter()
    try:
        done = 0
        while done < count:
            async with db.session(ws) as session:
                for _ in range(min(batch, count - done)):
                    await emit(session, ws, EVENT_TYPE, {"n": done, "sent_at": time.time()})
                    done += 1
    finally:
        await db.dispose()
    return time.perf_counter() - started


async def paced_events(database_url: str, workspace_id: str, count: int, rate: float) -> float:
    """One event per transaction at ``rate`` per second; returns the achieved rate."""
    from core.db import WorkspaceId
    from core.events.service import emit

    db = open_database(database_url)
    ws = WorkspaceId(workspace_id)
    started = time.perf_counter()
    try:
        for n in range(count):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await anyio.sleep(delay)
            async with db.session(ws) as session:
                await emit(session, ws, EVENT_TYPE, {"n": n, "sent_at": time.time()})
    finally:
        await db.dispose()
    return count / (time.perf_counter() - started)


def start_worker(database_url: str, concurrency: int) -> tuple[subprocess.Popen[str], float]:
    """Start ``patchbay worker``; returns it and the time its "started" line appeared."""
    exe = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_ALLOW_PRIVATE_NETWORK": "true",
        "PATCHBAY_LOG_LEVEL": "INFO",
        "PATCHBAY_WORKER_POLL_SECONDS": "0.05",
    }
    proc = subprocess.Popen(
        [exe, "worker", "--concurrency", str(concurrency)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    started = threading.Event()
    when: list[float] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "started:" in line and not started.is_set():
                when.append(time.perf_counter())
                started.set()
            if "ERROR" in line or "Traceback" in line:
                sys.stderr.write("worker: " + line)

    threading.Thread(target=pump, daemon=True).start()
    if not started.wait(60):
        proc.kill()
        raise RuntimeError("worker did not start")
    return proc, when[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return

    scratch_pg: str | None = None
    tmpdir: str | None = None
    if args.database_url.startswith("postgres"):
        name = f"bench_webhooks_{secrets.token_hex(4)}"
        admin_url = args.database_url
        anyio.run(admin, admin_url, f'CREATE DATABASE "{name}"')
        scratch_pg = name
        database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    else:
        tmpdir = tempfile.mkdtemp(prefix="bench_webhooks_")
        database_url = f"sqlite:///{tmpdir}/bench.db"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    worker: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: httpx.get(base + "/stats", timeout=1).status_code == 200, 30, "receiver")
        workspace_id = anyio.run(prepare, database_url, base + "/hook")

        # 1. Throughput: a backlog of N deliveries, one worker process drains it.
        queued_in = anyio.run(
            lambda: record_events(database_url, workspace_id, args.deliveries, batch=500)
        )
        worker, t0 = start_worker(database_url, args.concurrency)
        worker_cpu0, receiver_cpu0 = cpu_seconds(worker.pid), cpu_seconds(receiver.pid)
        wait_for(lambda: stats(base)["count"] >= args.deliveries, 600, "deliveries")
        elapsed = time.perf_counter() - t0
        worker_cpu = cpu_seconds(worker.pid) - worker_cpu0
        receiver_cpu = cpu_seconds(receiver.pid) - receiver_cpu0
        throughput = args.deliveries / elapsed

        # 2. Latency: paced events with the worker running.
        httpx.get(base + "/reset", timeout=5)
        achieved = anyio.run(
            lambda: paced_events(database_url, workspace_id, args.latency_events, args.rate)
        )
        wait_for(lambda: stats(base)["count"] >= args.latency_events, 120, "paced deliveries")
        latency = stats(base)

        engine = "PostgreSQL" if scratch_pg else "SQLite"
        print(
            json.dumps(
                {
                    "engine": engine,
                    "deliveries": args.deliveries,
                    "worker_concurrency": args.concurrency,
                    "queue_fill_seconds": round(queued_in, 2),
                    "drain_seconds": round(elapsed, 2),
                    "deliveries_per_second": round(throughput, 1),
                    "worker_cpu_seconds": round(worker_cpu, 2),
                    "deliveries_per_worker_cpu_second": round(args.deliveries / worker_cpu, 1),
                    "receiver_cpu_seconds": round(receiver_cpu, 2),
                    "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "latency_events": args.latency_events,
                    "latency_rate_per_second": round(achieved, 1),
                    "latency_p50_ms": round(latency["p50_ms"], 1),
                    "latency_p95_ms": round(latency["p95_ms"], 1),
                    "latency_max_ms": round(latency["max_ms"], 1),
                    "goal_deliveries_per_second": 500,
                    "goal_met": throughput >= 500,
                },
                indent=2,
            )
        )
    finally:
        if worker is not None:
            stop(worker)
        stop(receiver)
        if scratch_pg:
            anyio.run(
                admin, args.database_url, f'DROP DATABASE IF EXISTS "{scratch_pg}" WITH (FORCE)'
            )
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
