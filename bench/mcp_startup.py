"""``patchbay mcp`` over stdio: time to the first ``tools/list`` answer and to exit on EOF.

What Claude Desktop sees: it launches the command, sends ``initialize``, then
``tools/list``; to stop it closes stdin. Measured from ``Popen`` (interpreter start,
imports, database, token check included) with raw JSON-RPC lines, so no client library
adds to the figure. Both with the in-process worker (the SQLite default) and with
``--no-worker``; also the bare interpreter and the import of the MCP SDK, which bound
what any Python stdio server can reach on this machine.

    .venv/bin/python bench/mcp_startup.py [--runs 10]

Goals (issue 11): first ``tools/list`` within 1.0 s; exit within 2 s of EOF.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXE = str(Path(sys.executable).with_name("patchbay"))
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


async def prepare(database_url: str) -> str:
    """A migrated database with a pro workspace and an all-scopes token."""
    from core.config import Settings
    from core.runtime import Runtime
    from patchbay.domains import platform
    from tests.factories import make_tenant

    runtime = Runtime.create(
        Settings(database_url=database_url, _env_file=None),  # type: ignore[call-arg]
        platform(),
    )
    try:
        return (await make_tenant(runtime, name="Bench")).token
    finally:
        await runtime.close()


def once(env: dict[str, str], flags: list[str]) -> tuple[float, float, float]:
    """(initialize answered, tools/list answered, exit after EOF) in seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [EXE, "mcp", *flags],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin and proc.stdout

    def send(message: dict[str, object]) -> None:
        proc.stdin.write((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    send(INIT)
    proc.stdout.readline()
    init = time.monotonic() - started
    send(INITIALIZED)
    send(LIST)
    answer = json.loads(proc.stdout.readline())
    listed = time.monotonic() - started
    assert answer["result"]["tools"], answer
    closing = time.monotonic()
    proc.stdin.close()
    proc.wait(timeout=30)
    return init, listed, time.monotonic() - closing


def command_seconds(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.monotonic() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        from core.migrate import upgrade

        upgrade(database_url)
        token = anyio.run(prepare, database_url)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            "PATCHBAY_TOKEN": token,
            "PATCHBAY_DATABASE_URL": database_url,
            "PATCHBAY_LOG_LEVEL": "WARNING",
        }
        once(env, [])  # warm the page cache and the byte-code caches
        results: dict[str, list[tuple[float, float, float]]] = {"worker": [], "no-worker": []}
        for _ in range(args.runs):  # alternate, so drift hits both alike
            results["worker"].append(once(env, []))
            results["no-worker"].append(once(env, ["--no-worker"]))
    print(f"patchbay mcp over stdio, {args.runs} launches each (median [min-max], seconds):")
    for mode, samples in results.items():
        columns = list(zip(*samples, strict=True))
        text = []
        for label, values in zip(("initialize", "tools/list", "exit"), columns, strict=True):
            text.append(
                f"{label} {statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"
            )
        print(f"  {mode:9}  " + "  ".join(text))
    bare = command_seconds("pass", 5)
    sdk = command_seconds("import mcp.server.stdio, mcp.server.lowlevel", 5)
    print(f"  floor: bare interpreter {bare:.3f}, + importing the MCP SDK {sdk:.3f}")
    listed = statistics.median(s[1] for s in results["worker"])
    exits = max(s[2] for samples in results.values() for s in samples)
    print(
        f"goals: first tools/list ≤ 1.0 s: {'OK' if listed <= 1.0 else 'MISSED'} ({listed:.3f}); "
        f"exit ≤ 2 s after EOF: {'OK' if exits <= 2.0 else 'MISSED'} (max {exits:.3f})"
    )


if __name__ == "__main__":
    main()
