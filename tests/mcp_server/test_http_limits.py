"""``/mcp`` over a real server: every authenticated request counts against the token's rate
limit (shared with REST), the ``Authorization`` header is parsed as REST parses it, and
an unreachable rate-limit store answers 503 (issue 14, items 6, 8 and 9)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.runtime import Runtime
from tests.factories import Tenant, make_token
from tests.mcp_server.helpers import free_port, http_server

ACCEPT = "application/json, text/event-stream"
LIMIT = 10


def rpc(method: str, params: dict[str, Any] | None = None) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    ).encode()


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The SPEC §3 error object of a refusal of ``/mcp`` (a JSON-RPC error's ``data``;
    REST answers the envelope itself)."""
    body = response.json()["error"]
    return body.get("data", body)


def headers(authorization: str) -> dict[str, str]:
    return {
        "Authorization": authorization,
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
    }


async def test_tools_list_counts_against_the_shared_limit(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    async with (
        http_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=60, headers=headers(f"Bearer {token}")) as http,
    ):
        statuses = [
            (await http.post("/mcp", content=rpc("tools/list"))).status_code for _ in range(25)
        ]
        assert statuses == [200] * LIMIT + [429] * (25 - LIMIT)
        over = await http.post("/mcp", content=rpc("tools/list"))
        assert refusal(over)["code"] == "rate_limited"
        assert int(over.headers["Retry-After"]) >= 1
        assert over.headers["X-RateLimit-Remaining"] == "0"
        # The same budget as REST: the token is over it there too.
        rest = await http.get("/api/v1/me")
        assert rest.status_code == 429 and rest.json()["error"]["code"] == "rate_limited"


async def test_a_tool_call_counts_once(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    call = rpc("tools/call", {"name": "get_me", "arguments": {}})
    async with (
        http_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=60, headers=headers(f"Bearer {token}")) as http,
    ):
        for _ in range(3):
            r = await http.post("/mcp", content=call)
            assert r.status_code == 200 and r.json()["result"]["isError"] is False, r.text
        me = await http.get("/api/v1/me")
        assert me.headers["X-RateLimit-Remaining"] == str(LIMIT - 4)


@pytest.mark.parametrize("spacing", ["  ", "\t", " \t "])
async def test_authorization_is_parsed_like_rest(
    settings: Settings, tenant: Tenant, spacing: str
) -> None:
    """``Bearer`` followed by several spaces or a tab: 200 on both channels (it was 200 on
    REST and 401 on /mcp); a value with a blank inside: 401 on both."""
    async with http_server(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        good = headers(f"Bearer{spacing}{tenant.token}")
        assert (await http.get("/api/v1/me", headers=good)).status_code == 200
        r = await http.post("/mcp", content=rpc("tools/list"), headers=good)
        assert r.status_code == 200, r.text
        bad = headers(f"Bearer{spacing}{tenant.token} extra")
        assert (await http.get("/api/v1/me", headers=bad)).status_code == 401
        assert (await http.post("/mcp", content=rpc("tools/list"), headers=bad)).status_code == 401


async def test_an_unreachable_limiter_store_is_503(runtime: Runtime, tenant: Tenant) -> None:
    """Redis gone after start-up (here: a closed port, start-up check skipped): /mcp and
    REST answer 503 rate_limiter_unavailable with Retry-After, never 500."""
    from core.ratelimit import RateLimiter
    from rest.app import build_app

    runtime.limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    app = build_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        for response in (
            await http.get("/api/v1/me", headers=headers(f"Bearer {tenant.token}")),
            await http.post(
                "/mcp", content=rpc("tools/list"), headers=headers(f"Bearer {tenant.token}")
            ),
        ):
            assert response.status_code == 503, response.text
            assert refusal(response)["code"] == "rate_limiter_unavailable"
            assert int(response.headers["Retry-After"]) >= 1
