"""Hostile and malformed REST input: always a 4xx envelope, never a write, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core.runtime import Runtime
from tests.factories import Tenant, owner_session

TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"
MiB = 1024 * 1024
NOT_COUNTED = {"audit_log"}  # every request, refused or not, is audited


async def snapshot(runtime: Runtime) -> dict[str, int]:
    """Row counts of every table (all workspace data) except the audit log."""
    counts = {}
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in NOT_COUNTED:
                continue
            stmt = select(func.count()).select_from(table)
            counts[table.name] = int((await session.execute(stmt)).scalar_one())
    return counts


@pytest.fixture
async def unchanged(runtime: Runtime, tenant: Tenant) -> AsyncIterator[None]:
    """Fails the test if any table changed (audit rows are expected and not counted)."""
    before = await snapshot(runtime)
    yield
    assert await snapshot(runtime) == before


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code, r.text
    assert error["message"]
    assert error["request_id"].startswith("req_")
    assert error["request_id"] == r.headers["X-Request-Id"]
    assert "Traceback" not in r.text
    return error


def json_headers(tenant: Tenant) -> dict[str, str]:
    return {**tenant.headers, "Content-Type": "application/json"}


# ---------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"name": "x", ', "malformed_json"),
        (b"{'name': 'x'}", "malformed_json"),
        (b'{"name": "x"} trailing', "malformed_json"),
        (b'{"name": "\xff\xfe", "scopes": ["crm:read"]}', "malformed_json"),
        (b'\xff{"name": 1}', "malformed_json"),
        (b'{"name": "x", "scopes": ["crm:read"], "expires_in_days": NaN}', "malformed_json"),
        (b'{"name": "x", "scopes": ["crm:read"], "expires_in_days": Infinity}', "malformed_json"),
        (b'{"name": "x", "scopes": ["crm:read"], "expires_in_days": -Infinity}', "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed_json"),
        (b'[{"name": "x", "scopes": ["crm:read"]}]', "validation_error"),
        (b'"just a string"', "validation_error"),
        (b"42", "validation_error"),
        (b"null", "validation_error"),
    ],
    ids=[
        "truncated",
        "single-quotes",
        "trailing-garbage",
        "invalid-utf8-in-string",
        "invalid-utf8-lead",
        "nan",
        "infinity",
        "minus-infinity",
        "deep-nesting",
        "array",
        "string",
        "number",
        "null",
    ],
)
async def test_bad_json_bodies(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, raw: bytes, code: str
) -> None:
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert_error(r, 400, code)


VALID = b'{"name": "typed", "scopes": ["crm:read"]}'


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "application/jsonp",
    ],
)
async def test_a_json_body_needs_the_json_media_type(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, content_type: str | None
) -> None:
    """A JSON body under another (or no) Content-Type is 415, not taken as JSON (issue 14)."""
    headers = dict(tenant.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = await client.post(TOKENS, headers=headers, content=VALID)
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe" + VALID.decode().encode("utf-16-le"),
        VALID.decode().encode("utf-16"),
        VALID.decode().encode("utf-32"),
        b"\xef\xbb\xbf" + VALID,
    ],
    ids=["utf-16-bom", "utf-16", "utf-32", "utf-8-bom"],
)
async def test_json_is_utf8_only(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, raw: bytes
) -> None:
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert_error(r, 400, "malformed_json")


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8"])
async def test_json_media_type_variants_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str
) -> None:
    headers = {**tenant.headers, "Content-Type": content_type}
    assert (await client.post(TOKENS, headers=headers, content=VALID)).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5, "scopes": ["crm:read"]}, "name"),
        ({"name": "x", "scopes": "crm:read"}, "scopes"),
        ({"name": "x", "scopes": [1]}, "scopes.0"),
        ({"name": "x", "scopes": ["crm:read"], "expires_in_days": "5"}, "expires_in_days"),
        ({"name": "x", "scopes": ["crm:read"], "expires_in_days": 5.5}, "expires_in_days"),
        ({"name": "x", "scopes": ["crm:read"], "expires_in_days": True}, "expires_in_days"),
        ({"name": "x", "scopes": ["crm:read"], "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "scopes": ["crm:read"], "expires_in_days": 10**30}, "expires_in_days"),
        ({"name": "", "scopes": ["crm:read"]}, "name"),
        ({"name": "x" * 201, "scopes": ["crm:read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": None, "scopes": ["crm:read"]}, "name"),
        ({"scopes": ["crm:read"]}, "name"),
        ({"name": "x", "scopes": ["crm:read"], "bogus": 1}, "bogus"),
        ({"name": "x", "scopes": ["crm:read"], "workspace_id": "wrk_x"}, "workspace_id"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_wrong_types_and_unknown_fields_name_the_field(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, body: dict[str, Any], field: str
) -> None:
    r = await client.post(TOKENS, headers=tenant.headers, json=body)
    error = assert_error(r, 400, "validation_error")
    assert field in error["message"]
    assert field in {e["field"] for e in error["details"]["errors"]}


async def test_empty_body_is_missing_fields(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    r = await client.post(TOKENS, headers=tenant.headers, content=b"")
    error = assert_error(r, 400, "validation_error")
    assert {e["field"] for e in error["details"]["errors"]} == {"name", "scopes"}


@pytest.mark.parametrize(
    "name", ["a\u0000b", "\ud800", "x\udfff"], ids=["nul", "lone-high", "lone-low"]
)
async def test_strings_the_database_cannot_store_are_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, name: str
) -> None:
    raw = json.dumps({"name": name, "scopes": ["crm:read"]}).encode()  # ASCII escapes
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["request_id"] == r.headers["X-Request-Id"]


async def test_nul_in_a_key_or_query_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    raw = json.dumps({"name": "x", "scopes": ["crm:read"], "a\u0000": 1}).encode()
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert_error(r, 400, "validation_error")
    r = await client.delete(f"{TOKENS}/tok_%00", headers=tenant.headers)
    assert_error(r, 400, "validation_error")
    r = await client.get(AUDIT, params={"operation": "a\x00b"}, headers=tenant.headers)
    assert_error(r, 400, "validation_error")


@pytest.mark.parametrize("depth", [500, 990, 5000])
async def test_deeply_nested_field_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, depth: int
) -> None:
    raw = b'{"name": "x", "scopes": ' + b"[" * depth + b"]" * depth + b"}"
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in {"validation_error", "malformed_json"}


# ---------------------------------------------------------------- size


async def test_body_over_limit_with_content_length_is_413(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    raw = json.dumps({"name": "x" * (MiB + 10), "scopes": ["crm:read"]}).encode()
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert_error(r, 413, "payload_too_large")


async def test_streamed_body_over_limit_without_content_length_is_413(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536  # 1.25 MiB in all
        yield b'", "scopes": ["crm:read"]}'

    request = client.build_request("POST", TOKENS, headers=json_headers(tenant), content=chunks())
    assert "content-length" not in request.headers
    r = await client.send(request)
    assert_error(r, 413, "payload_too_large")


async def test_lying_content_length_is_still_bounded(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    headers = {**json_headers(tenant), "Content-Length": "10"}
    request = client.build_request("POST", TOKENS, headers=headers, content=chunks())
    r = await client.send(request)
    assert r.status_code in (400, 413), r.text


async def test_body_just_under_the_limit_is_accepted(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    body = json.dumps({"name": "ok", "scopes": ["crm:read"]}).encode()
    raw = body[:-1] + b" " * (MiB - len(body)) + b"}"
    assert len(raw) == MiB
    r = await client.post(TOKENS, headers=json_headers(tenant), content=raw)
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- query strings and cursors


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!!",
        "eyJ",  # truncated base64
        cursor_of({"after": "not an id"}),
        cursor_of({"after": 5}),
        cursor_of({"before": "tok_01m84stzeqeagxvypb650pn6dc"}),
        cursor_of(["tok_01m84stzeqeagxvypb650pn6dc"]),
        cursor_of("tok_01m84stzeqeagxvypb650pn6dc"),
        "é",
    ],
)
@pytest.mark.parametrize("path", [TOKENS, AUDIT])
async def test_invalid_cursor_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str, cursor: str
) -> None:
    r = await client.get(path, params={"cursor": cursor}, headers=tenant.headers)
    assert_error(r, 400, "invalid_cursor")


async def test_overlong_cursor_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    r = await client.get(TOKENS, params={"cursor": "a" * 500}, headers=tenant.headers)
    assert_error(r, 400, "validation_error")


@pytest.mark.parametrize(
    "limit", ["0", "101", "-1", "abc", "1.5", "", "1e2", "99999999999999999999"]
)
async def test_bad_limit_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, limit: str
) -> None:
    r = await client.get(TOKENS, params={"limit": limit}, headers=tenant.headers)
    error = assert_error(r, 400, "validation_error")
    assert "limit" in error["message"]


@pytest.mark.parametrize("limit", ["1", "100"])
async def test_limit_bounds_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, limit: str
) -> None:
    r = await client.get(TOKENS, params={"limit": limit}, headers=tenant.headers)
    assert r.status_code == 200, r.text


async def test_unknown_and_repeated_query_parameters_are_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    unknown = await client.get(TOKENS, params={"bogus": "1"}, headers=tenant.headers)
    assert "bogus" in assert_error(unknown, 400, "validation_error")["message"]
    repeated = await client.get(f"{TOKENS}?limit=5&limit=6", headers=tenant.headers)
    assert "limit" in assert_error(repeated, 400, "validation_error")["message"]
    me = await client.get("/api/v1/me", params={"x": "1"}, headers=tenant.headers)
    assert_error(me, 400, "validation_error")


async def test_overlong_path_parameter_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    r = await client.delete(f"{TOKENS}/{'x' * 300}", headers=tenant.headers)
    assert_error(r, 400, "validation_error")


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/", "/nope", "/api/v2/me", f"{TOKENS}/a/b"]
)
async def test_unknown_route_is_404_envelope(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str
) -> None:
    r = await client.get(path, headers=tenant.headers)
    assert_error(r, 404, "route_not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/me"), ("DELETE", TOKENS), ("PATCH", TOKENS), ("PUT", f"{TOKENS}/tok_x")],
)
async def test_wrong_method_is_405_envelope(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, method: str, path: str
) -> None:
    r = await client.request(method, path, headers=tenant.headers, json={})
    assert_error(r, 405, "method_not_allowed")


async def test_errors_before_authentication_still_carry_request_id(
    client: httpx.AsyncClient, unchanged: None
) -> None:
    r = await client.post(TOKENS, content=b"{not json")
    # Authentication comes first: without a token the body is never read.
    assert_error(r, 401, "unauthenticated")


# ---------------------------------------------------------------- other write operations


@dataclass
class Target:
    """A write operation and the bodies that exercise it."""

    url: str
    valid: dict[str, Any]
    wrong_type: tuple[dict[str, Any], str]  # (body, field named in the error)
    string_field: str  # a string the caller controls (CR/LF, NUL)
    too_long: tuple[dict[str, Any], int, str]  # (body, status, code)
    huge: tuple[dict[str, Any], int, str]  # ~900 KB, within the body cap


RECIPE = {"steps": [{"type": "log", "message": "hello {{input.name}}"}]}
HOOK = {"url": "https://127.0.0.1:9/hook", "event_types": ["contact.created"]}
BIG = 900 * 1024


def _with(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**body, key: value}


def _targets(workflow_id: str) -> dict[str, Target]:
    contact = {"name": "Jane Doe", "email": "jane@acme.test"}
    workflow = {"name": "Welcome", "recipe": RECIPE}
    hook = {"name": "Ops", **HOOK}
    run = {"input": {"name": "Jane"}}
    return {
        "create_contact": Target(
            "/api/v1/contacts",
            contact,
            (_with(contact, "name", 5), "name"),
            "name",
            (_with(contact, "name", "x" * 201), 400, "validation_error"),
            (_with(contact, "notes", "x" * BIG), 400, "validation_error"),
        ),
        "create_workflow": Target(
            "/api/v1/workflows",
            workflow,
            (_with(workflow, "recipe", "not an object"), "recipe"),
            "name",
            (_with(workflow, "description", "x" * 2001), 400, "validation_error"),
            (_with(workflow, "name", "x" * BIG), 400, "validation_error"),
        ),
        "create_webhook_endpoint": Target(
            "/api/v1/webhooks",
            hook,
            (_with(hook, "event_types", "contact.created"), "event_types"),
            "name",
            (_with(hook, "url", "https://a.test/" + "x" * 2048), 400, "validation_error"),
            (_with(hook, "description", "x" * BIG), 400, "validation_error"),
        ),
        "trigger_workflow": Target(
            f"/api/v1/workflows/{workflow_id}/runs",
            run,
            ({"input": ["Jane"]}, "input"),
            "",  # strings live inside input
            ({"input": {"name": "x" * 70_000}}, 422, "input_too_large"),
            ({"input": {"name": "x" * BIG}}, 422, "input_too_large"),
        ),
    }


@pytest.fixture(
    params=["create_contact", "create_workflow", "create_webhook_endpoint", "trigger_workflow"]
)
async def target(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, tenant: Tenant
) -> Target:
    r = await client.post(
        "/api/v1/workflows", headers=tenant.headers, json={"name": "Target", "recipe": RECIPE}
    )
    assert r.status_code == 201, r.text
    return _targets(r.json()["data"]["id"])[request.param]


@pytest.fixture
async def frozen(runtime: Runtime, target: Target) -> AsyncIterator[None]:
    """``unchanged``, taken after the target's own records exist."""
    before = await snapshot(runtime)
    yield
    assert await snapshot(runtime) == before


def _text_body(target: Target, value: str) -> dict[str, Any]:
    if target.string_field:
        return _with(target.valid, target.string_field, value)
    return {"input": {"name": value}}


async def test_target_valid_body_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, target: Target
) -> None:
    """The corpus below is refused for its defect, not because the base body is wrong."""
    r = await client.post(target.url, headers=tenant.headers, json=target.valid)
    assert r.status_code in (201, 202), r.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "x", ',
        b"{'name': 'x'}",
        b'{"name": "x"} trailing',
        b'{"name": "\xff\xfe"}',
        b'\xff{"name": 1}',
        b'{"name": NaN}',
    ],
    ids=["truncated", "single-quotes", "trailing-garbage", "invalid-utf8", "utf8-lead", "nan"],
)
async def test_target_malformed_json(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None, raw: bytes
) -> None:
    r = await client.post(target.url, headers=json_headers(tenant), content=raw)
    assert_error(r, 400, "malformed_json")


async def test_target_wrong_type_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None
) -> None:
    body, field = target.wrong_type
    r = await client.post(target.url, headers=tenant.headers, json=body)
    error = assert_error(r, 400, "validation_error")
    assert field in {e["field"] for e in error["details"]["errors"]}, r.text


@pytest.mark.parametrize("key", ["bogus", "workspace_id", "id"])
async def test_target_unknown_field_is_400(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None, key: str
) -> None:
    r = await client.post(target.url, headers=tenant.headers, json=_with(target.valid, key, "x"))
    error = assert_error(r, 400, "validation_error")
    assert key in {e["field"] for e in error["details"]["errors"]}, r.text


async def test_target_string_over_max_length(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None
) -> None:
    body, status, code = target.too_long
    assert_error(await client.post(target.url, headers=tenant.headers, json=body), status, code)


async def test_target_900_kb_string_within_the_body_cap(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None
) -> None:
    body, status, code = target.huge
    raw = json.dumps(body).encode()
    assert BIG < len(raw) < MiB
    r = await client.post(target.url, headers=json_headers(tenant), content=raw)
    assert_error(r, status, code)


async def test_target_10_mib_body_is_413(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None
) -> None:
    raw = json.dumps(_text_body(target, "x" * (10 * MiB))).encode()
    r = await client.post(target.url, headers=json_headers(tenant), content=raw)
    assert_error(r, 413, "payload_too_large")


@pytest.mark.parametrize(
    "value", ["a\u0000b", "\u0000", "x\ud800"], ids=["nul", "only-nul", "lone"]
)
async def test_target_unstorable_strings_are_400(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None, value: str
) -> None:
    raw = json.dumps(_text_body(target, value)).encode()  # \\u escapes, valid JSON
    r = await client.post(target.url, headers=json_headers(tenant), content=raw)
    assert_error(r, 400, "validation_error")


async def test_target_nul_in_an_object_key_is_400(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, frozen: None
) -> None:
    key = "a\u0000"
    body = _with(target.valid, key, 1) if target.string_field else {"input": {key: 1}}
    r = await client.post(target.url, headers=json_headers(tenant), content=json.dumps(body))
    assert_error(r, 400, "validation_error")


INJECTION = "x\r\nSet-Cookie: a=b\r\nX-Injected: 1"


def assert_no_injected_header(r: httpx.Response) -> None:
    assert "set-cookie" not in r.headers, r.headers
    assert "x-injected" not in r.headers, r.headers
    assert all("a=b" not in v for v in r.headers.values()), r.headers


NAMED = ["create_contact", "create_workflow", "create_webhook_endpoint"]


@pytest.mark.parametrize("target", NAMED, indirect=True)
@pytest.mark.parametrize("text", [INJECTION, "a\tb", "line\u2028separator", "bell\x07"])
async def test_target_control_characters_in_a_name_are_400(
    client: httpx.AsyncClient, tenant: Tenant, target: Target, text: str, frozen: None
) -> None:
    """Header injection through a name: refused (names are single lines), nothing
    written. Free-form run input may hold any text and is stored as sent."""
    r = await client.post(target.url, headers=tenant.headers, json=_text_body(target, text))
    assert_no_injected_header(r)
    error = assert_error(r, 400, "validation_error")
    assert target.string_field in error["message"]


async def test_crlf_in_free_form_run_input_is_stored_as_sent(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/workflows", headers=tenant.headers, json={"name": "Target", "recipe": RECIPE}
    )
    target = _targets(created.json()["data"]["id"])["trigger_workflow"]
    r = await client.post(target.url, headers=tenant.headers, json=_text_body(target, INJECTION))
    assert_no_injected_header(r)
    assert r.status_code == 202, r.text
    assert r.json()["data"]["input"]["name"] == INJECTION


async def test_crlf_in_query_and_path_adds_no_header(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None
) -> None:
    q = await client.get("/api/v1/contacts", params={"query": INJECTION}, headers=tenant.headers)
    assert q.status_code == 200, q.text
    assert_no_injected_header(q)
    p = await client.get("/api/v1/contacts/con_%0d%0aSet-Cookie:%20a=b", headers=tenant.headers)
    assert_error(p, 404, "contact_not_found")
    assert_no_injected_header(p)


# ---------------------------------------------------------------- list operations

LISTS = [
    "/api/v1/contacts",
    "/api/v1/workflows",
    "/api/v1/workflow-runs",
    "/api/v1/webhooks",
    "/api/v1/deals",
    "/api/v1/tasks",
]


@pytest.mark.parametrize("cursor", ["garbage", "eyJ", cursor_of({"after": 5}), "é"])
@pytest.mark.parametrize("path", LISTS)
async def test_list_invalid_cursor_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str, cursor: str
) -> None:
    r = await client.get(path, params={"cursor": cursor}, headers=tenant.headers)
    assert_error(r, 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["-1", "0", "101", "99999999999999999999", "abc", "", "1.5"])
@pytest.mark.parametrize("path", LISTS)
async def test_list_bad_limit_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str, limit: str
) -> None:
    r = await client.get(path, params={"limit": limit}, headers=tenant.headers)
    assert "limit" in assert_error(r, 400, "validation_error")["message"]


@pytest.mark.parametrize(
    "query",
    ["limit=%FF", "cursor=%C3", "limit=5&x%FE=1", "query=%ED%A0%80"],
    ids=["value", "truncated-sequence", "key", "surrogate"],
)
@pytest.mark.parametrize("path", LISTS)
async def test_list_invalid_utf8_in_query_string_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str, query: str
) -> None:
    r = await client.get(f"{path}?{query}", headers=tenant.headers)
    assert_error(r, 400, "validation_error")


async def test_raw_non_utf8_query_bytes_are_400(app: Any, tenant: Tenant, unchanged: None) -> None:
    """Bytes that are not even percent-encoded (httpx cannot send them): straight ASGI."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/contacts",
        "raw_path": b"/api/v1/contacts",
        "root_path": "",
        "query_string": b"query=\xff\xfe",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in tenant.headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "validation_error"
    assert error["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("path", ["/api/v1/contacts", "/api/v1/webhooks"])
async def test_list_nul_in_a_filter_is_400(
    client: httpx.AsyncClient, tenant: Tenant, unchanged: None, path: str
) -> None:
    r = await client.get(path, params={"query": "a\x00b"}, headers=tenant.headers)
    assert_error(r, 400, "validation_error")


async def test_a_float_holding_an_integer_is_an_integer(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """JSON has one number type and JSON Schema's integer includes 10.0 (a schemathesis
    finding: a schema-valid 10.0 was refused); 10.5 is still no integer."""
    ok = await client.post(
        "/api/v1/deal-stages",
        json={"key": "demo", "name": "Demo", "position": 10.0},
        headers=tenant.headers,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"]["position"] == 10
    r = await client.post(
        "/api/v1/deal-stages",
        json={"key": "half", "name": "Half", "position": 10.5},
        headers=tenant.headers,
    )
    assert_error(r, 400, "validation_error")
