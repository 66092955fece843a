"""Workflow engine throughput on PostgreSQL, against a bare SKIP LOCKED loop.

Usage:
    .venv/bin/python -m bench.workflows [--url postgresql://postgres@127.0.0.1:5432/test]
        [--runs 10000] [--workers 2] [--concurrency 8]

1. Creates a scratch database (dropped at the end) and migrates it.
2. Starts ``--workers`` ``patchbay worker`` processes, waits until they execute a warm-up
   run, then inserts ``--runs`` queued runs of a 3-step recipe (log, log,
   fire_webhook_event with no subscribed endpoint) in one bulk insert and times until every
   run has finished. Prints runs/s.
3. On a scratch table, ``--workers`` processes with ``--concurrency`` tasks each run the
   bare loop: claim one row (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED
   LIMIT 1) RETURNING``) in one transaction and mark it done in a second — the least any
   queue must do per job, through the same driver stack. Prints rows/s and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anyio
from sqlalchemy import text

from core.config import Settings
from core.db import Database, WorkspaceId, utcnow
from core.ids import new_id
from patchbay.domains import platform

RECIPE = {
    "continue_on_error": False,
    "steps": [
        {"type": "log", "message": "first {{input.n}}"},
        {"type": "log", "message": "second"},
        {"type": "fire_webhook_event", "event": "bench.done", "payload": {"n": "{{input.n}}"}},
    ],
}
PATCHBAY = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))


def admin(url: str, *statements: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            for s in statements:
                await conn.execute(s)
        finally:
            await conn.close()

    anyio.run(run)


async def setup(url: str) -> tuple[WorkspaceId, str]:
    from core.webhooks import service as webhooks
    from core.workflows import service
    from core.workspaces import service as workspaces

    db = Database(url, role=None)
    db.platform = platform()  # the services read the event catalogue off the platform
    try:
        async with db.session() as session:
            ws = WorkspaceId((await workspaces.create_workspace(session, "Bench", "custom")).id)
        async with db.session(ws) as session:
            await webhooks.register_event_type(
                session, ws, key="bench.done", category="bench", description="bench"
            )
            wf = await service.create_workflow(session, ws, name="bench", recipe=RECIPE)
        return ws, wf.id
    finally:
        await db.dispose()


async def enqueue(url: str, ws: WorkspaceId, wf: str, count: int) -> float:
    """Bulk-insert ``count`` queued runs in one transaction; returns the commit time."""
    from sqlalchemy import insert

    from core.workflows.models import WorkflowRun

    db = Database(url, role=None)
    now = utcnow()
    rows = [
        {
            "id": new_id("run"),
            "workspace_id": ws,
            "workflow_id": wf,
            "status": "queued",
            "input": {"n": i},
            "recipe": RECIPE,
            "channel": "cli",
            "steps": [],
            "next_step": 0,
            "steps_total": 3,
            "steps_succeeded": 0,
            "steps_failed": 0,
            "created_at": now,
            "run_after": now,
            "attempts": 0,
        }
        for i in range(count)
    ]
    try:
        async with db.session() as session:
            for start in range(0, count, 2000):
                await session.execute(insert(WorkflowRun), rows[start : start + 2000])
        async with db.session() as session:  # statistics, as autovacuum gives a live table
            await session.execute(text("ANALYZE workflow_runs"))
        return time.perf_counter()
    finally:
        await db.dispose()


_UNFINISHED = text(
    "SELECT count(*) FILTER (WHERE status IN ('queued','running')), "
    "count(*) FILTER (WHERE status = 'failed') FROM workflow_runs"
)


async def count_unfinished(url: str) -> tuple[int, int]:
    db = Database(url, role=None)
    try:
        async with db.session() as session:
            row = (await session.execute(_UNFINISHED)).one()
            return int(row[0]), int(row[1])
    finally:
        await db.dispose()


async def wait_all_finished(url: str, interval: float, deadline: float | None = None) -> int:
    """Poll on one connection (a new connection per poll would cost the server a fork)
    until no run is queued or running; returns how many failed."""
    db = Database(url, pool_size=1, role=None)
    try:
        while True:
            async with db.session() as session:
                unfinished, failed = (await session.execute(_UNFINISHED)).one()
            if not unfinished:
                return int(failed)
            if deadline is not None and time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            await anyio.sleep(interval)
    finally:
        await db.dispose()


def start_workers(url: str, workers: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": url,
        "PATCHBAY_LOG_LEVEL": "WARNING",
        "PATCHBAY_WORKER_POLL_SECONDS": "0.2",
    }
    return [
        subprocess.Popen([PATCHBAY, "worker", "--concurrency", str(concurrency)], env=env)
        for _ in range(workers)
    ]


def bench_engine(url: str, runs: int, workers: int, concurrency: int) -> float:
    ws, wf = anyio.run(setup, url)
    procs = start_workers(url, workers, concurrency)
    try:
        anyio.run(enqueue, url, ws, wf, workers * 2)  # warm-up: wait until workers run jobs
        anyio.run(wait_all_finished, url, 0.1, time.monotonic() + 60)
        started = anyio.run(enqueue, url, ws, wf, runs)
        failed = anyio.run(wait_all_finished, url, 0.05)
        elapsed = time.perf_counter() - started
        if failed:
            print(f"WARNING: {failed} runs failed")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    return runs / elapsed


# ---------------------------------------------------------------- in-process CPU profile


async def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds of every server process connected to the scratch database (only when
    the server runs on this machine; empty otherwise)."""
    db = Database(url, role=None)
    try:
        async with db.session() as session:
            pids = (
                await session.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                )
            ).scalars()
            pids = list(pids)
    finally:
        await db.dispose()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


async def hot_updates(url: str) -> list[int]:
    db = Database(url, role=None)
    try:
        async with db.session() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables "
                        "WHERE relname = 'workflow_runs'"
                    )
                )
            ).one()
            return [int(row[0]), int(row[1])]
    finally:
        await db.dispose()


async def profile_in_process(url: str, runs: int, concurrency: int, cprofile: bool) -> dict:
    """Process ``runs`` queued runs with one in-process ``Worker``: CPU ms and SQL
    statements per run (wall clock is noisy on a shared box; CPU time per run is not)."""
    import cProfile
    import pstats
    import resource

    from sqlalchemy import event

    from core.jobs import Worker
    from core.runtime import Runtime
    from core.workflows.jobs import QUEUE

    ws, wf = await setup(url)
    runtime = Runtime.create(Settings(database_url=url, log_level="WARNING"), platform())
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await enqueue(url, ws, wf, 50)  # warm-up (imports, prepared statements, pool)
        worker = Worker(runtime, [QUEUE], concurrency=concurrency)
        async with anyio.create_task_group() as tg:
            await tg.start(worker.run)
            while (await count_unfinished(url))[0]:
                await anyio.sleep(0.05)
            worker.stop()
        await enqueue(url, ws, wf, runs)
        statements = 0
        profiler = cProfile.Profile() if cprofile else None
        server_before = await backend_cpu(url)
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        worker = Worker(runtime, [QUEUE], concurrency=concurrency)
        if profiler:
            profiler.enable()
        async with anyio.create_task_group() as tg:
            await tg.start(worker.run)
            while worker.processed < runs:
                await anyio.sleep(0.01)
            worker.stop()
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_SELF)
        measured = statements
        server_after = await backend_cpu(url)
        await anyio.sleep(1.5)  # let the server publish its table statistics
        hot = await hot_updates(url)
        unfinished, failed = await count_unfinished(url)
    finally:
        await runtime.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(45)
    return {
        "runs": runs,
        "concurrency": concurrency,
        "cpu_ms_per_run": round(cpu * 1000 / runs, 3),
        "statements_per_run": round(measured / runs, 3),
        "server_cpu_ms_per_run": round(
            sum(v - server_before.get(pid, 0.0) for pid, v in server_after.items()) * 1000 / runs,
            3,
        ),
        "wall_runs_per_s": round(runs / wall, 1),
        "workflow_runs_updates_hot_of_all": hot,
        "unfinished": unfinished,
        "failed": failed,
    }


# ---------------------------------------------------------------- bare loop

CLAIM = text(
    "UPDATE bench_jobs SET locked_by = :me, lease_until = now() + interval '30 seconds' "
    "WHERE id IN (SELECT id FROM bench_jobs WHERE status = 'queued' AND run_after <= now() "
    "AND (lease_until IS NULL OR lease_until < now()) ORDER BY run_after, id "
    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
)
COMPLETE = text(
    "UPDATE bench_jobs SET status = 'done', locked_by = NULL, lease_until = NULL "
    "WHERE id = :id AND locked_by = :me"
)


async def bare_worker(url: str, tasks: int) -> None:
    db = Database(url, role=None)
    me = secrets.token_hex(4)

    async def loop() -> None:
        while True:
            async with db.session() as session:
                row = (await session.execute(CLAIM, {"me": me})).first()
            if row is None:
                return
            async with db.session() as session:
                await session.execute(COMPLETE, {"id": row[0], "me": me})

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(loop)
    finally:
        await db.dispose()


def bench_bare(url: str, rows: int, workers: int, concurrency: int) -> float:
    admin(
        url.replace("postgresql+asyncpg", "postgresql"),
        "DROP TABLE IF EXISTS bench_jobs",
        "CREATE TABLE bench_jobs (id bigserial PRIMARY KEY, status text NOT NULL, "
        "run_after timestamp NOT NULL DEFAULT now(), lease_until timestamp, locked_by text)",
        "CREATE INDEX bench_jobs_due ON bench_jobs (run_after, id) WHERE status = 'queued'",
        f"INSERT INTO bench_jobs (status) SELECT 'queued' FROM generate_series(1, {rows})",
        "ANALYZE bench_jobs",
    )
    cmd = [sys.executable, "-m", "bench.workflows", "--bare-worker", url, str(concurrency)]
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(workers)]
    for p in procs:
        p.wait()
    elapsed = time.perf_counter() - started
    return rows / elapsed


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--bare-worker":
        anyio.run(bare_worker, sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("PATCHBAY_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="Only the in-process variant: CPU ms and SQL statements per run.",
    )
    parser.add_argument("--cprofile", action="store_true", help="With --profile: cProfile.")
    args = parser.parse_args()

    from core.migrate import upgrade

    load_before = os.getloadavg()
    name = f"pbbench_{secrets.token_hex(4)}"
    admin(args.url, f'CREATE DATABASE "{name}"')
    url = f"{args.url.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        Settings(database_url=url)  # validate
        if args.profile:
            result = anyio.run(profile_in_process, url, args.runs, args.concurrency, args.cprofile)
            print(json.dumps(result, indent=2))
            return
        runs_per_s = bench_engine(url, args.runs, args.workers, args.concurrency)
        bare_per_s = bench_bare(url, args.runs, args.workers, args.concurrency)
    finally:
        admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result = {
        "runs": args.runs,
        "worker_processes": args.workers,
        "concurrency_per_process": args.concurrency,
        "engine_runs_per_s": round(runs_per_s, 1),
        "bare_loop_rows_per_s": round(bare_per_s, 1),
        "ratio_engine_to_bare": round(runs_per_s / bare_per_s, 3),
        "goal_runs_per_s": 1000,
        "goal_ratio": 0.5,
        "load_average_before_after": [
            [round(x, 2) for x in load_before],
            [round(x, 2) for x in os.getloadavg()],
        ],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
