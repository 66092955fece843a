"""Dashboard page latency vs the REST call behind it.

One app in process (httpx over ASGI, no network) on a SQLite file (or ``--database-url``)
with a pro workspace, an owner and N workflow runs. Sequential requests after a warm-up:

- dashboard: ``GET /runs`` signed in (session check, the member's principal, the gate,
  50 runs rendered to HTML) and ``GET /`` (session and principal only);
- REST: ``GET /api/v1/workflow-runs?limit=50`` with a token (the same operation).

Prints p50/p95 per request kind and the ratio dashboard /runs p50 ÷ REST p50.

    .venv/bin/python -m bench.dashboard [--calls 300] [--runs 60] [--database-url URL]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000, 2),
    }


async def main(database_url: str, calls: int, runs: int) -> dict[str, Any]:
    from core.config import Settings
    from core.db import Database
    from core.migrate import upgrade_async
    from core.ratelimit import RateLimiter
    from core.runtime import Runtime
    from patchbay.domains import platform
    from rest.app import build_app
    from tests.factories import make_tenant
    from tests.web.helpers import PASSWORD, add_member
    from web.app import mount

    await upgrade_async(database_url)
    settings = Settings(
        database_url=database_url,
        rate_limit_per_minute=1_000_000,
        database_role="",
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = Runtime(
        settings=settings, db=Database(database_url), limiter=RateLimiter(None), platform=platform()
    )
    tenant = await make_tenant(runtime, name="Bench", plan="custom")
    await add_member(runtime, tenant.workspace_id, "owner@bench.test", "owner")
    app = mount(build_app(runtime), runtime)
    transport = httpx.ASGITransport(app=app)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        made = await client.post(
            "/api/v1/workflows",
            headers=tenant.headers,
            json={"name": "Bench", "recipe": {"steps": [{"type": "log", "message": "hi"}]}},
        )
        workflow_id = made.json()["data"]["id"]
        for _ in range(runs):
            await client.post(
                f"/api/v1/workflows/{workflow_id}/runs", headers=tenant.headers, json={"input": {}}
            )
        page = await client.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        signed = await client.post(
            "/signin",
            data={"csrf_token": csrf.group(1), "email": "owner@bench.test", "password": PASSWORD},
        )
        assert signed.status_code == 303
        kinds = {
            "dashboard GET /runs": ("/runs", {}),
            "dashboard GET /": ("/", {}),
            "REST GET /api/v1/workflow-runs?limit=50": (
                "/api/v1/workflow-runs?limit=50",
                tenant.headers,
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(20):  # warm-up
            for path, headers in kinds.values():
                assert (await client.get(path, headers=headers)).status_code == 200
        for _ in range(calls):  # interleaved, so drift hits every kind alike
            for name, (path, headers) in kinds.items():
                started = time.perf_counter()
                answer = await client.get(path, headers=headers)
                samples[name].append(time.perf_counter() - started)
                assert answer.status_code == 200
        for name, values in samples.items():
            results[name] = summary(values)
    await runtime.close()
    rest = results["REST GET /api/v1/workflow-runs?limit=50"]["p50_ms"]
    results["ratio /runs ÷ REST (p50)"] = round(results["dashboard GET /runs"]["p50_ms"] / rest, 2)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench_dashboard.db'}"
        for key, value in anyio.run(main, url, args.calls, args.runs).items():
            print(f"{key}: {value}")
