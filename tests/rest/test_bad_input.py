"""Hostile and malformed REST input: always a 4xx envelope, never a write, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.events.models import DomainEvent
from core.idempotency_models import IdempotencyRecord
from core.runtime import Runtime
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace
from tests.factories import Tenant

TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"
MiB = 1024 * 1024
DOMAIN_TABLES = (ApiToken, IdempotencyRecord, DomainEvent, Workspace)


async def snapshot(runtime: Runtime) -> dict[str, int]:
    counts = {}
    async with runtime.db.session() as session:
        for model in DOMAIN_TABLES:
            stmt = select(func.count()).select_from(model)
            counts[model.__tablename__] = int((await session.execute(stmt)).scalar_one())  # type: ignore[attr-defined]
    return counts


@pytest.fixture
async def unchanged(runtime: Runtime, tenant: Tenant) -> AsyncIterator[None]:
    """Fails the test if any domain table changed (audit rows are expected and not counted)."""
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
