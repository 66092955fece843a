"""Bad input over MCP: every case is a tool error with a stable code, and nothing is written.

Tool level (official client, in memory): wrong types, unknown and missing arguments,
huge strings, invalid cursors, out-of-range limits, NUL characters, deep nesting and
idempotency keys of the wrong type or shape. Each answer is ``isError`` with
``{"error": {"code": ...}}`` and every table but ``audit_log`` (refusals are audited,
by design) has the same row count afterwards, on SQLite and PostgreSQL.

Protocol level (raw httpx POSTs to ``/mcp`` on a real server): malformed JSON, requests
without ``method``, unknown methods, non-object ``arguments`` / ``params``, deep nesting
and bodies over ``settings.max_body_bytes`` — a JSON-RPC error or a 4xx, never a 5xx,
and nothing written.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from core.config import Settings
from core.idempotency import MAX_KEY_LENGTH
from core.runtime import Runtime
from tests.factories import Tenant, owner_session
from tests.mcp_server.helpers import error_code, error_of, http_server, memory_client

MB = 1024 * 1024
AUDIT = "audit_log"
DEPTH = 60
"""Nesting the client can still serialise; deeper bodies are sent raw over HTTP below."""


async def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows of every table (all workspaces)."""
    counts: dict[str, int] = {}
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            stmt = sa.select(sa.func.count()).select_from(table)
            counts[table.name] = (await session.execute(stmt)).scalar_one()
    return counts


async def audited_outcomes(runtime: Runtime, since: int) -> list[str]:
    """``outcome`` of the audit rows past the first ``since`` (oldest first)."""
    table = SQLModel.metadata.tables[AUDIT]
    stmt = sa.select(table.c.outcome).order_by(table.c.id)
    async with owner_session(runtime) as session:
        return list((await session.execute(stmt)).scalars().all())[since:]


def unchanged_but_audit(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """Tables whose row count changed, audit_log aside."""
    return {
        name: (before[name], after[name])
        for name in before
        if name != AUDIT and before[name] != after[name]
    }


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


VALID_CONTACT = {"name": "Jane"}

# (tool, arguments, expected error code)
TOOL_CASES: list[tuple[str, str, Callable[[], dict[str, Any]], str]] = [
    ("wrong_type_int_for_string", "create_contact", lambda: {"name": 123}, "validation_error"),
    ("wrong_type_list", "create_contact", lambda: {"name": ["Jane"]}, "validation_error"),
    ("wrong_type_bool_for_int", "search_contacts", lambda: {"limit": True}, "validation_error"),
    ("string_for_int", "search_contacts", lambda: {"limit": "10"}, "validation_error"),
    ("float_for_int", "search_contacts", lambda: {"limit": 10.5}, "validation_error"),
    ("object_for_string", "create_lead", lambda: {"name": {"x": 1}}, "validation_error"),
    ("unknown_field", "create_contact", lambda: {**VALID_CONTACT, "bogus": 1}, "validation_error"),
    (
        "workspace_id_smuggled",
        "create_contact",
        lambda: {**VALID_CONTACT, "workspace_id": "ws_x"},
        "validation_error",
    ),
    ("missing_required", "create_contact", lambda: {}, "validation_error"),
    ("missing_path_id", "update_contact", lambda: {"name": "x"}, "validation_error"),
    ("empty_required", "create_contact", lambda: {"name": ""}, "validation_error"),
    ("null_required", "create_contact", lambda: {"name": None}, "validation_error"),
    ("huge_name_2mb", "create_contact", lambda: {"name": "x" * (2 * MB)}, "validation_error"),
    (
        "huge_notes",
        "create_company",
        lambda: {"name": "A", "notes": "n" * (2 * MB)},
        "validation_error",
    ),
    ("huge_id", "get_contact", lambda: {"contact_id": "c" * MB}, "validation_error"),
    ("cursor_garbage", "search_contacts", lambda: {"cursor": "garbage!!"}, "invalid_cursor"),
    (
        "cursor_base64_junk",
        "search_contacts",
        lambda: {"cursor": cursor("not a cursor")},
        "invalid_cursor",
    ),
    ("cursor_json_junk", "list_leads", lambda: {"cursor": cursor('{"id": 1}')}, "invalid_cursor"),
    ("cursor_huge", "list_tasks", lambda: {"cursor": "A" * MB}, None),
    ("limit_zero", "search_contacts", lambda: {"limit": 0}, "validation_error"),
    ("limit_negative", "search_contacts", lambda: {"limit": -1}, "validation_error"),
    ("limit_huge", "search_contacts", lambda: {"limit": 10**12}, "validation_error"),
    ("limit_bigger_than_int64", "list_deals", lambda: {"limit": 2**70}, "validation_error"),
    (
        "amount_negative",
        "create_deal",
        lambda: {"name": "D", "amount_cents": -5},
        "validation_error",
    ),
    (
        "amount_huge",
        "create_deal",
        lambda: {"name": "D", "amount_cents": 10**30},
        "validation_error",
    ),
    ("nul_in_name", "create_contact", lambda: {"name": "Ja\x00ne"}, "validation_error"),
    (
        "header_injection_in_name",
        "create_contact",
        lambda: {"name": "x\r\nSet-Cookie: a=b"},
        "validation_error",
    ),
    (
        "line_break_in_workflow_name",
        "create_workflow",
        lambda: {"name": "a\nb", "recipe": {"steps": [{"type": "log", "message": "m"}]}},
        "validation_error",
    ),
    (
        "line_break_in_webhook_name",
        "create_webhook_endpoint",
        lambda: {"name": "a\rb", "url": "https://example.com/h", "event_types": ["*"]},
        "validation_error",
    ),
    ("nul_in_notes", "create_company", lambda: {"name": "A", "notes": "\x00"}, "validation_error"),
    (
        "nul_in_custom_field",
        "create_lead",
        lambda: {"name": "L", "custom_fields": {"k": "a\x00"}},
        "validation_error",
    ),
    ("nul_in_query", "search_contacts", lambda: {"query": "ja\x00ne"}, "validation_error"),
    ("nul_in_id", "get_contact", lambda: {"contact_id": "con_\x00"}, None),
    (
        "deep_custom_fields",
        "create_lead",
        lambda: {"name": "L", "custom_fields": nested(DEPTH)},
        "validation_error",
    ),
    (
        "deep_workflow_input",
        "create_workflow",
        lambda: {"name": "W", "recipe": nested(DEPTH)},
        None,
    ),
    (
        "deep_unknown_field",
        "create_contact",
        lambda: {"name": "J", "extra": nested(DEPTH)},
        "validation_error",
    ),
    (
        "idempotency_key_int",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": 123},
        "validation_error",
    ),
    (
        "idempotency_key_list",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": ["k"]},
        "validation_error",
    ),
    (
        "idempotency_key_object",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": {"k": 1}},
        "validation_error",
    ),
    (
        "idempotency_key_empty",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": ""},
        "invalid_idempotency_key",
    ),
    (
        "idempotency_key_too_long",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": "k" * (MAX_KEY_LENGTH + 1)},
        "invalid_idempotency_key",
    ),
    (
        "idempotency_key_nul",
        "create_contact",
        lambda: {**VALID_CONTACT, "idempotency_key": "k\x00"},
        "invalid_idempotency_key",
    ),
    (
        "enum_unknown",
        "create_task",
        lambda: {"title": "T", "priority": "extreme"},
        "validation_error",
    ),
    (
        "date_garbage",
        "create_task",
        lambda: {"title": "T", "due_at": "next tuesday"},
        "validation_error",
    ),
    (
        "email_garbage",
        "create_contact",
        lambda: {"name": "J", "email": "not-an-email"},
        "validation_error",
    ),
    ("unknown_tool", "drop_all_tables", lambda: {}, "tool_not_found"),
]


@pytest.mark.parametrize(
    ("tool", "make", "code"),
    [pytest.param(tool, make, code, id=case) for case, tool, make, code in TOOL_CASES],
)
async def test_bad_tool_arguments(
    runtime: Runtime,
    tenant: Tenant,
    tool: str,
    make: Callable[[], dict[str, Any]],
    code: str | None,
) -> None:
    async with memory_client(runtime, tenant.token) as client:
        before = await row_counts(runtime)
        result = await client.call_tool(tool, make())
        got = error_code(result)
        if code is None:  # several codes are right; it must be a stable client error
            assert got in {"validation_error", "invalid_cursor", "contact_not_found"} or (
                got.endswith("_invalid") or got.startswith("recipe_")
            ), got
        else:
            assert got == code, result.structured_content
        error = error_of(result)
        assert error["message"] and error["request_id"].startswith("req_")
        after = await row_counts(runtime)
    assert not unchanged_but_audit(before, after)
    outcomes = await audited_outcomes(runtime, before[AUDIT])
    assert "ok" not in outcomes


async def test_bad_input_then_good_input_still_works(runtime: Runtime, tenant: Tenant) -> None:
    """After a burst of refusals the same session writes normally (nothing is poisoned)."""
    async with memory_client(runtime, tenant.token) as client:
        before = await row_counts(runtime)
        for _case, tool, make, _code in TOOL_CASES[:12]:
            assert (await client.call_tool(tool, make())).is_error
        ok = await client.call_tool("create_contact", {"name": "Jane", "idempotency_key": "k-1"})
        assert not ok.is_error, ok.structured_content
        after = await row_counts(runtime)
    assert after["contacts"] == before["contacts"] + 1


# ---------------------------------------------------------------- protocol level (HTTP)

ACCEPT = "application/json, text/event-stream"


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
        "X-MCP-Toolsets": "all",
    }


def _call(arguments: Any, name: str = "create_contact", **extra: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params, **extra}


def _rpc_error_or_4xx(response: httpx.Response) -> None:
    """A JSON-RPC error (any status < 500) or a 4xx; never a 5xx or a success."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        return
    body = response.json()
    if "error" in body:
        assert isinstance(body["error"]["code"], int)
        return
    # a tools/call answered as a tool error is fine too (still nothing written)
    assert body["result"]["isError"] is True, body


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_protocol_level_bad_input(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    limit = settings.max_body_bytes
    deep = ('{"a":' * 100_000 + "1" + "}" * 100_000).encode()
    raw_cases: dict[str, bytes] = {
        "malformed_json": b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list",',
        "not_json": b"hello",
        "empty_body": b"",
        "json_string": b'"tools/list"',
        "json_number": b"42",
        "json_null": b"null",
        "missing_method": json.dumps({"jsonrpc": "2.0", "id": 1, "params": {}}).encode(),
        "method_not_string": json.dumps({"jsonrpc": "2.0", "id": 1, "method": 5}).encode(),
        "unknown_method": json.dumps({"jsonrpc": "2.0", "id": 1, "method": "db/drop"}).encode(),
        "wrong_jsonrpc_version": json.dumps({"jsonrpc": "1.0", "id": 1, "method": "ping"}).encode(),
        "batch": json.dumps([_call({"name": "A"}), _call({"name": "B"})]).encode(),
        "empty_batch": b"[]",
        "arguments_list": json.dumps(_call([1, 2])).encode(),
        "arguments_string": json.dumps(_call("name=Jane")).encode(),
        "arguments_number": json.dumps(_call(5)).encode(),
        "params_list": json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["create_contact"]}
        ).encode(),
        "params_missing_name": json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}}
        ).encode(),
        "name_not_string": json.dumps(_call({"name": "A"}, name=5)).encode(),  # type: ignore[arg-type]
        "deeply_nested_body": deep,
        "deeply_nested_arguments": b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
        b'{"name":"create_contact","arguments":{"name":"J","x":' + deep + b"}}}",
        "nan_limit": b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
        b'{"name":"search_contacts","arguments":{"limit":NaN}}}',
        "nul_escaped": json.dumps(_call({"name": "Ja\u0000ne"})).encode(),
        "invalid_utf8": b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
        b'{"name":"create_contact","arguments":{"name":"\xff\xfe"}}}',
        "idempotency_key_number": json.dumps(
            _call({"name": "Jane", "idempotency_key": 12})
        ).encode(),
        "tools_list_bad_cursor": json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "!!"}}
        ).encode(),
    }
    async with (
        http_server(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=60, headers=_headers(tenant.token)) as http,
    ):
        before = await row_counts(runtime)
        for case, body in raw_cases.items():
            response = await http.post("/mcp", content=body)
            try:
                _rpc_error_or_4xx(response)
            except AssertionError as exc:
                raise AssertionError(f"{case}: {exc}") from None

        # specific answers
        r = await http.post("/mcp", content=raw_cases["malformed_json"])
        assert r.status_code == 400 and r.json()["error"]["code"] == -32700
        r = await http.post("/mcp", content=raw_cases["unknown_method"])
        assert r.json()["error"]["code"] == -32601, r.text
        r = await http.post("/mcp", content=raw_cases["missing_method"])
        assert r.status_code == 400 and r.json()["error"]["code"] == -32600, r.text
        assert len(r.json()["error"]["message"]) < 120  # a sentence, not a validation dump
        r = await http.post("/mcp", content=raw_cases["idempotency_key_number"])
        assert r.status_code == 200
        result = r.json()["result"]
        assert result["isError"] is True and "structuredContent" not in result
        assert json.loads(result["content"][0]["text"])["error"]["code"] == "validation_error"

        # bodies over the limit: 413 in the error envelope, declared or streamed (chunked)
        big = json.dumps(_call({"name": "x" * (10 * MB)})).encode()
        r = await http.post("/mcp", content=big)
        assert r.status_code == 413, r.text[:200]
        assert r.json()["error"]["data"]["code"] == "payload_too_large"
        assert r.headers["x-request-id"].startswith("req_")
        r = await http.post("/mcp", content=_chunks(big))
        assert r.status_code == 413 and r.json()["error"]["data"]["code"] == "payload_too_large"
        just_over = json.dumps(_call({"name": "x" * limit})).encode()
        r = await http.post("/mcp", content=just_over)
        assert r.status_code == 413
        # a 2 MB name over HTTP never reaches validation: it is over the body limit
        r = await http.post("/mcp", content=json.dumps(_call({"name": "x" * (2 * MB)})).encode())
        assert r.status_code == 413

        # a body under the limit still works after all that
        ok = await http.post("/mcp", content=json.dumps(_call({"name": "Jane"})).encode())
        assert ok.status_code == 200 and ok.json()["result"]["isError"] is False, ok.text
        after = await row_counts(runtime)

    changed = unchanged_but_audit(before, after)
    assert changed.pop("contacts") == (before["contacts"], before["contacts"] + 1)
    changed.pop("domain_events", None)  # contact.created of that last call
    assert not changed, changed
