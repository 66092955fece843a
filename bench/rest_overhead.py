"""REST gate overhead: ``GET /api/v1/contacts?limit=25`` through the full gate vs a bare
Starlette route in the same app reading the same 25 rows with one SQL query.

One uvicorn server process; load from a separate process (``wrk`` when installed, else
``bench/_load.py``), same connections and duration for both, alternating for a few
rounds (the median round of each counts). Prints requests/s, p50, p99
and the ratio gated/bare (goal ≥ 0.6), then the idle RSS of ``patchbay serve`` (goal
≤ 150 MB).

    python bench/rest_overhead.py [--database-url URL] [--seconds 20] [--connections 32]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.contract.server import free_port, wait_healthy  # noqa: E402


async def prepare(database_url: str, contacts: int) -> tuple[str, str]:
    """Migrate, create a pro workspace, a token and ``contacts`` contacts (via the API)."""
    from core.config import Settings
    from core.migrate import upgrade_async
    from core.runtime import Runtime
    from patchbay.domains import platform
    from rest.app import build_app
    from tests.factories import make_tenant

    await upgrade_async(database_url)
    settings = Settings(database_url=database_url, rate_limit_per_minute=1_000_000)
    runtime = Runtime.create(settings, platform())
    try:
        tenant = await make_tenant(runtime, name="Bench")
        app = build_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for i in range(contacts):
                r = await client.post(
                    "/api/v1/contacts",
                    headers=tenant.headers,
                    json={"name": f"Contact {i}", "email": f"c{i}@example.com"},
                )
                r.raise_for_status()
        return tenant.workspace_id, tenant.token
    finally:
        await runtime.close()


def run_load(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, Any]:
    """Drive ``url`` from a separate process and return rps/p50/p99."""
    if shutil.which("wrk"):
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

        def pct(p: str) -> float:
            m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
            assert m, out
            value, unit = float(m.group(1)), m.group(2)
            return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {
            "rps": rps,
            "p50_ms": pct("50"),
            "p99_ms": pct("99"),
            "errors": int(non2xx.group(1)) if non2xx else 0,
            "tool": "wrk",
        }
    cmd = [sys.executable, "-m", "bench._load", url, str(seconds), str(connections)]
    cmd += [f"{k}={v}" for k, v in headers.items()]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {**json.loads(out), "tool": "python"}


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median requests/s (its latencies go with it)."""
    return sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]


def idle_rss_mb(env: dict[str, str]) -> float:
    """RSS of an idle ``patchbay serve`` process after start-up and one request."""
    port = free_port()
    exe = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        time.sleep(2)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        return kb / 1024
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="pb-bench-")
    database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
    workspace_id, token = anyio.run(prepare, database_url, args.contacts)
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_RATE_LIMIT_PER_MINUTE": "1000000",
        "PATCHBAY_LOG_LEVEL": "WARNING",
        "BENCH_WORKSPACE_ID": workspace_id,
        "PYTHONPATH": str(ROOT),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench._overhead_app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_healthy(base, server)
        auth = {"Authorization": f"Bearer {token}"}
        gated_url = f"{base}/api/v1/contacts?limit=25"
        bare_url = f"{base}/bench/bare-contacts"
        gated_body = httpx.get(gated_url, headers=auth).json()
        bare_body = httpx.get(bare_url).json()
        assert [c["id"] for c in gated_body["data"]] == [c["id"] for c in bare_body["data"]]
        run_load(gated_url, 3, args.connections, auth)  # warm-up
        run_load(bare_url, 3, args.connections, {})
        # Alternate the two for --rounds rounds and keep each one's median round, so a
        # drift in machine speed during the run does not land on one side only.
        gated_rounds, bare_rounds = [], []
        for _ in range(args.rounds):
            gated_rounds.append(run_load(gated_url, args.seconds, args.connections, auth))
            bare_rounds.append(run_load(bare_url, args.seconds, args.connections, {}))
        gated, bare = median_round(gated_rounds), median_round(bare_rounds)
    finally:
        server.terminate()
        server.wait(10)
    rss = idle_rss_mb(env)
    engine = database_url.split(":", 1)[0]
    print(
        f"engine={engine} connections={args.connections} seconds={args.seconds} "
        f"rounds={args.rounds} load={gated['tool']}"
    )
    for name, r in (("gated /api/v1/contacts", gated), ("bare starlette route", bare)):
        print(
            f"{name:24s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}"
        )
    for name, rounds in (("gated", gated_rounds), ("bare", bare_rounds)):
        print(f"{name} rounds req/s: " + ", ".join(f"{r['rps']:.0f}" for r in rounds))
    print(f"ratio gated/bare: {gated['rps'] / bare['rps']:.2f}x (goal >= 0.6x)")
    print(f"idle RSS of patchbay serve: {rss:.0f} MB (goal <= 150 MB)")


if __name__ == "__main__":
    main()
