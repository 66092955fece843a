"""Workspace export and usage meters (issue 18).

Export: loads ``--rows`` contacts into one workspace (COPY on PostgreSQL, executemany on
SQLite), runs the export job as the worker does (``core.workspaces.lifecycle.run_export``)
and reports records/s, the archive's size and the process's peak RSS growth during the
export (streamed in batches: it must not grow with the workspace).

Meters: ``--adders`` concurrent transactions each add to one meter ``--adds`` times
(``core.usage.add``, one UPSERT each); reports adds/s and checks the total is exact.

    python -m bench.exports --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.exports --database-url sqlite:////tmp/bench_exports.db
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import date

import anyio
import sqlalchemy as sa

from bench._crm_data import (
    analyze,
    contact_rows,
    copy_contacts,
    make_workspace,
    run,
    scratch_database,
)
from core import usage
from core.config import Settings
from core.crm.models import Contact
from core.db import Database
from core.jobs.queue import claim
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.workspaces import lifecycle
from core.workspaces.jobs import EXPORT_QUEUE
from patchbay.domains import platform


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(url: str, rows: int, adders: int, adds: int) -> dict:
    async with scratch_database(url, "exports") as db_url:
        db = Database(db_url)
        db.platform = platform()
        out_dir = tempfile.mkdtemp(prefix="bench_exports_")
        settings = Settings(database_url=db_url, export_dir=out_dir, _env_file=None)  # type: ignore[call-arg]
        runtime = Runtime(settings, db, RateLimiter(None), platform())
        try:
            ws = await make_workspace(db, "bench")
            data = contact_rows(ws, rows)
            if db.is_sqlite:
                async with db.session() as session:
                    for i in range(0, len(data), 20_000):
                        await session.execute(sa.insert(Contact.__table__), data[i : i + 20_000])
            else:
                await copy_contacts(db_url, data)
                await analyze(db_url)
            del data
            async with db.session(ws) as session:
                export = await lifecycle.request_export(session, ws, lifecycle.utcnow())
                export_id = export.id
            rss_before = peak_rss_mb()
            started = time.perf_counter()
            (job,) = await claim(db, EXPORT_QUEUE, worker_id="bench", lease_seconds=600)
            await lifecycle.run_export(runtime, job)
            export_s = time.perf_counter() - started
            rss_after = peak_rss_mb()
            async with db.session(ws, read_only=True) as session:
                done = await lifecycle.get_export(session, ws, export_id)
            assert done.status == "succeeded", done.error
            records = sum(done.record_counts.values())

            async def adder() -> None:
                for _ in range(adds):
                    async with db.session(ws) as session:
                        await usage.add(session, ws, "ai_tokens", 3)

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(adders):
                    tg.start_soon(adder)
            meter_s = time.perf_counter() - started
            async with db.session(ws, read_only=True) as session:
                total = (await usage.totals(session, ws, date.min, date.max))["ai_tokens"]
        finally:
            await db.dispose()
    return {
        "engine": "sqlite" if url.startswith("sqlite") else "postgresql",
        "contacts": rows,
        "records_exported": records,
        "export_seconds": round(export_s, 2),
        "records_per_second": round(records / export_s),
        "archive_mb": round(done.size_bytes / 1024 / 1024, 1),
        "peak_rss_mb_before_export": round(rss_before),
        "peak_rss_mb_after_export": round(rss_after),
        "meter_adds": adders * adds,
        "meter_adds_per_second": round(adders * adds / meter_s),
        "meter_total_exact": total == adders * adds * 3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--adders", type=int, default=8)
    parser.add_argument("--adds", type=int, default=250)
    args = parser.parse_args()

    async def go() -> None:
        result = await bench(args.database_url, args.rows, args.adders, args.adds)
        print(json.dumps(result, indent=2))

    run(go)


if __name__ == "__main__":
    main()
