"""MCP vs REST latency for the same operation, and the size of the default tool list.

One ``patchbay serve`` process (subprocess) on SQLite with a pro workspace and N contacts.
The same read is called sequentially (one client each, after a warm-up):

- MCP: ``search_contacts {"limit": 25}`` over Streamable HTTP, one official-client
  session (modern protocol, and the legacy handshake era that n8n & co. speak);
- REST: ``GET /api/v1/contacts?limit=25`` with an httpx keep-alive client.

Falls back to ``get_me`` vs ``GET /api/v1/me`` when the CRM operations are absent. Prints
p50/p95 per channel and the ratio MCP p50 / REST p50 (goal ≤ 1.5), then the size of
``tools/list`` for the default selection and for ``all``: bytes, estimated tokens
(bytes/4), per tool max/mean (goals: ≤ 250 tokens per tool, ≤ 8k for the default list).

    .venv/bin/python bench/mcp_vs_rest.py [--calls 300] [--contacts 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


async def prepare(database_url: str, contacts: int) -> tuple[str, bool]:
    """Migrate, create a pro workspace, an all-scopes token and ``contacts`` contacts."""
    from core.config import Settings
    from core.gateway import call_operation
    from core.migrate import upgrade_async
    from core.operations import Channel
    from core.runtime import Runtime
    from patchbay.domains import platform
    from tests.factories import make_tenant

    await upgrade_async(database_url)
    settings = Settings(database_url=database_url, rate_limit_per_minute=1_000_000)
    runtime = Runtime.create(settings, platform())
    try:
        tenant = await make_tenant(runtime, name="Bench")
        create = runtime.registry.get("create_contact")
        has_crm = create is not None and runtime.registry.get("search_contacts") is not None
        if has_crm:
            assert create is not None
            for i in range(contacts):
                outcome = await call_operation(
                    runtime,
                    create,
                    credentials=tenant.token,
                    channel=Channel.rest,
                    arguments={"name": f"Contact {i}", "email": f"c{i}@example.com"},
                )
                assert outcome.ok, outcome.body
        return tenant.token, has_crm
    finally:
        await runtime.close()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


async def time_interleaved(
    base: str, token: str, tool: str, args: dict[str, Any], rest_path: str, calls: int, warmup: int
) -> dict[str, dict[str, float]]:
    """Each round calls every channel once, so they share the machine's load equally.

    - rest: httpx keep-alive GET;
    - mcp: the official client, modern protocol (one connection, validates output);
    - mcp_legacy: the official client after an ``initialize`` handshake (2025-11-25);
    - mcp_raw: a bare JSON-RPC ``tools/call`` POST over httpx keep-alive (what a thin
      client such as a workflow tool sends): the server's cost without the SDK client's.
    """
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    auth = {"Authorization": f"Bearer {token}"}
    raw_headers = {
        **auth,
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    raw_body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": args},
    }
    samples: dict[str, list[float]] = {"rest": [], "mcp": [], "mcp_legacy": [], "mcp_raw": []}
    async with (
        httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as rest,
        httpx.AsyncClient(base_url=base, headers=raw_headers, timeout=30) as raw,
        httpx2.AsyncClient(headers=auth, timeout=httpx2.Timeout(30)) as http_modern,
        httpx2.AsyncClient(headers=auth, timeout=httpx2.Timeout(30)) as http_legacy,
        Client(streamable_http_client(base + "/mcp", http_client=http_modern)) as modern,
        Client(
            streamable_http_client(base + "/mcp", http_client=http_legacy), mode="legacy"
        ) as legacy,
    ):
        await modern.list_tools()  # the client caches output schemas for validation
        await legacy.list_tools()

        async def call_rest() -> None:
            (await rest.get(rest_path)).raise_for_status()

        async def call_raw() -> None:
            r = await raw.post("/mcp", json=raw_body)
            r.raise_for_status()
            assert not r.json()["result"].get("isError"), r.text

        async def call_modern() -> None:
            result = await modern.call_tool(tool, args)
            assert not result.is_error, result.structured_content

        async def call_legacy() -> None:
            result = await legacy.call_tool(tool, args)
            assert not result.is_error, result.structured_content

        channels = {
            "rest": call_rest,
            "mcp": call_modern,
            "mcp_legacy": call_legacy,
            "mcp_raw": call_raw,
        }
        for i in range(warmup + calls):
            for name, fn in channels.items():
                start = time.perf_counter()
                await fn()
                elapsed = time.perf_counter() - start
                if i >= warmup:
                    samples[name].append(elapsed)
    return {name: summary(values) for name, values in samples.items()}


async def tool_list_size(base: str, token: str, toolsets: str | None) -> dict[str, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    if toolsets:
        headers["X-MCP-Toolsets"] = toolsets
    sizes: dict[str, int] = {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(base + "/mcp", http_client=http)) as client,
    ):
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                wire = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
                sizes[tool.name] = len(json.dumps(wire, separators=(",", ":")).encode())
            cursor = page.next_cursor
            if cursor is None:
                break
    total = sum(sizes.values())
    largest = max(sizes, key=lambda name: sizes[name])
    return {
        "tools": len(sizes),
        "bytes": total,
        "tokens_est": total // 4,
        "per_tool_mean_tokens": round(total / 4 / len(sizes), 1),
        "per_tool_max_tokens": sizes[largest] // 4,
        "largest_tool": largest,
        "tools_over_250_tokens": sum(1 for v in sizes.values() if v / 4 > 250),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="pb-mcp-bench-")
    database_url = f"sqlite:///{tmp}/bench.db"
    token, has_crm = anyio.run(prepare, database_url, args.contacts)
    if has_crm:
        tool, tool_args, rest_path = "search_contacts", {"limit": 25}, "/api/v1/contacts?limit=25"
    else:
        tool, tool_args, rest_path = "get_me", {}, "/api/v1/me"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_RATE_LIMIT_PER_MINUTE": "1000000",
        "PATCHBAY_LOG_LEVEL": "WARNING",
    }
    env.pop("PATCHBAY_MCP_TOOLSETS", None)
    exe = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, cwd=tmp, stdout=subprocess.DEVNULL
    )
    try:
        wait_healthy(base, proc)

        async def measure() -> dict[str, Any]:
            timings = await time_interleaved(
                base, token, tool, tool_args, rest_path, args.calls, args.warmup
            )
            rest_p50 = timings["rest"]["p50_ms"]
            return {
                "operation": tool,
                "rest_path": rest_path,
                "calls": args.calls,
                "contacts": args.contacts if has_crm else 0,
                **timings,
                "ratio_p50_over_rest": {
                    name: round(timings[name]["p50_ms"] / rest_p50, 2)
                    for name in ("mcp", "mcp_legacy", "mcp_raw")
                },
                "tools_list_default": await tool_list_size(base, token, None),
                "tools_list_all": await tool_list_size(base, token, "all"),
            }

        report = anyio.run(measure)
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"operation: MCP {tool} vs REST GET {rest_path}, {args.calls} sequential calls")
    ratios = report["ratio_p50_over_rest"]
    for name in ("rest", "mcp", "mcp_legacy", "mcp_raw"):
        r = report[name]
        ratio = f"  ×{ratios[name]} REST" if name in ratios else ""
        print(f"  {name:11} p50 {r['p50_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms{ratio}")
    ratio = ratios["mcp"]
    verdict = "OK" if ratio <= 1.5 else "MISSED"
    print(f"  goal MCP (official client) p50 ≤ 1.5 × REST p50: {ratio} {verdict}")
    for label in ("tools_list_default", "tools_list_all"):
        t = report[label]
        print(
            f"{label}: {t['tools']} tools, {t['bytes']} bytes ≈ {t['tokens_est']} tokens; "
            f"per tool mean {t['per_tool_mean_tokens']} / max {t['per_tool_max_tokens']} "
            f"({t['largest_tool']}); {t['tools_over_250_tokens']} tools over 250"
        )
    d = report["tools_list_default"]
    print(
        f"goals: default list ≤ 8000 tokens: {'OK' if d['tokens_est'] <= 8000 else 'MISSED'}; "
        f"≤ 250 tokens per tool (mean): {'OK' if d['per_tool_mean_tokens'] <= 250 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
