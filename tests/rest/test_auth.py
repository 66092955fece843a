"""REST authentication, abilities, plans, scopes, token management and the audit log."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.db import utcnow
from core.runtime import Runtime
from core.tokens.models import ApiToken
from tests.factories import Tenant, make_tenant, make_token, owner_session, token_for

ME = "/api/v1/me"
TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def count(runtime: Runtime, model: Any, *where: Any) -> int:
    async with owner_session(runtime) as session:
        stmt = select(func.count()).select_from(model)
        for cond in where:
            stmt = stmt.where(cond)
        return int((await session.execute(stmt)).scalar_one())


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, r.text
    assert error["message"]
    assert error["request_id"] == r.headers["X-Request-Id"]
    assert error["request_id"].startswith("req_")
    return error


def assert_401(r: httpx.Response) -> None:
    assert_error(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- authentication


async def test_valid_token_passes_and_case_insensitive_scheme(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await client.get(ME, headers={"Authorization": f"bearer {tenant.token}"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["token"]["id"] == tenant.token_id


async def test_missing_authorization_is_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert_401(await client.get(ME))


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda t: t, id="no-scheme"),
        pytest.param(lambda t: f"Basic {t}", id="basic-scheme"),
        pytest.param(lambda t: f"Token {t}", id="token-scheme"),
        pytest.param(lambda t: "Bearer", id="bearer-without-token"),
        pytest.param(lambda t: "Bearer ", id="bearer-blank"),
        pytest.param(lambda t: "Bearer garbage", id="garbage"),
        pytest.param(lambda t: f"Bearer {t}x", id="trailing-char"),
        pytest.param(lambda t: f"Bearer {t[:-1]}", id="truncated"),
        pytest.param(lambda t: "Bearer pbt_short_secretsecretsecretsecretsecretsecret", id="shape"),
        pytest.param(lambda t: f"Bearer {t.replace('pbt_', 'xyz_', 1)}", id="wrong-prefix"),
        pytest.param(lambda t: f"Bearer {t} {t}", id="two-tokens"),
    ],
)
async def test_malformed_authorization_is_401(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, make_header: Any
) -> None:
    before = await count(runtime, AuditEntry)
    assert_401(await client.get(ME, headers={"Authorization": make_header(tenant.token)}))
    # No workspace is known for an unauthenticated call: nothing is written anywhere.
    assert await count(runtime, AuditEntry) == before


async def test_right_id_wrong_secret_is_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    prefix, token_id, secret = tenant.token.split("_", 2)
    forged = f"{prefix}_{token_id}_{'A' * len(secret)}"
    assert forged != tenant.token
    assert_401(await client.get(ME, headers=bearer(forged)))


async def test_token_of_other_shape_with_known_id_is_401(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # The id part of a real token but a secret too short to be one of ours.
    prefix, token_id, _secret = tenant.token.split("_", 2)
    assert_401(await client.get(ME, headers=bearer(f"{prefix}_{token_id}_short")))


async def test_revoked_token_is_401_on_next_request(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    victim, victim_id = await make_token(runtime, tenant.workspace_id, name="victim")
    assert (await client.get(ME, headers=bearer(victim))).status_code == 200
    r = await client.delete(f"{TOKENS}/{victim_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["revoked_at"]
    assert_401(await client.get(ME, headers=bearer(victim)))
    # Revoking twice changes nothing and still answers the token.
    again = await client.delete(f"{TOKENS}/{victim_id}", headers=tenant.headers)
    assert again.status_code == 200
    assert again.json()["data"]["revoked_at"] == r.json()["data"]["revoked_at"]


async def test_revoking_itself_locks_the_caller_out(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await client.delete(f"{TOKENS}/{tenant.token_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert_401(await client.get(ME, headers=tenant.headers))


async def test_expired_token_is_401_on_next_request(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, token_id = await make_token(runtime, tenant.workspace_id, expires_in_days=1)
    r = await client.get(ME, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["token"]["expires_at"]
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_401(await client.get(ME, headers=bearer(token)))


async def test_revoke_unknown_or_foreign_token_is_404_alike(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await client.delete(f"{TOKENS}/{other_tenant.token_id}", headers=tenant.headers)
    missing = await client.delete(f"{TOKENS}/tok_{'0' * 26}", headers=tenant.headers)
    assert_error(foreign, 404, "token_not_found")
    assert_error(missing, 404, "token_not_found")
    assert foreign.json()["error"]["message"].replace(other_tenant.token_id, "X") == missing.json()[
        "error"
    ]["message"].replace(f"tok_{'0' * 26}", "X")
    # The other workspace's token still works.
    assert (await client.get(ME, headers=other_tenant.headers)).status_code == 200


# ---------------------------------------------------------------- abilities and plans


async def test_token_without_rest_ability_is_403(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, abilities=["api:mcp"])
    assert_error(await client.get(ME, headers=bearer(token)), 403, "token_missing_api_rest_ability")


@pytest.mark.parametrize(
    ("plan", "allowed"), [("starter", False), ("growth", False), ("pro", True), ("custom", True)]
)
async def test_rest_needs_pro_or_custom_plan(
    client: httpx.AsyncClient, runtime: Runtime, plan: str, allowed: bool
) -> None:
    t = await make_tenant(runtime, name=f"{plan} co", plan=plan)
    r = await client.get(ME, headers=t.headers)
    if allowed:
        assert r.status_code == 200, r.text
        assert r.json()["data"]["plan"]["name"] == plan
    else:
        assert_error(r, 403, "tier_not_entitled")


async def test_me_reports_workspace_plan_and_token(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token = await token_for(runtime, tenant, ["crm:read"], abilities=["api:rest"], name="reader")
    data = (await client.get(ME, headers=bearer(token))).json()["data"]
    assert data["workspace"]["id"] == tenant.workspace_id
    assert data["workspace"]["plan"] == "pro"
    assert data["plan"]["active_tokens"] == 5 and data["plan"]["rest_api"] is True
    assert data["token"]["name"] == "reader"
    assert data["token"]["scopes"] == ["crm:read"]
    assert data["token"]["abilities"] == ["api:rest", f"tenant:{tenant.workspace_id}"]
    assert data["token"]["last_used_at"]  # this very request is a use
    assert data["tenant"]["id"] == tenant.workspace_id
    assert data["tenant"]["name"] == data["workspace"]["name"]
    assert uuid.UUID(data["tenant"]["uuid"])  # stable: the same on every call
    again = (await client.get(ME, headers=bearer(token))).json()["data"]
    assert again["tenant"]["uuid"] == data["tenant"]["uuid"]
    assert "token" not in data["token"] and "token_hash" not in data["token"]


# ---------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("method", "path"), [("GET", AUDIT), ("GET", TOKENS), ("POST", TOKENS)], ids=str
)
async def test_missing_scope_is_403_naming_it(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, method: str, path: str
) -> None:
    token = await token_for(runtime, tenant, ["crm:read", "crm:write"])
    before = await count(runtime, ApiToken)
    r = await client.request(
        method, path, headers=bearer(token), json={"name": "x", "scopes": ["crm:read"]}
    )
    error = assert_error(r, 403, "scope_missing")
    assert "workspace:admin" in error["message"]
    assert error["details"]["required_scope"] == "workspace:admin"
    assert await count(runtime, ApiToken) == before


async def test_any_scope_operation_needs_no_scope(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token = await token_for(runtime, tenant, ["bi:read"])
    assert (await client.get(ME, headers=bearer(token))).status_code == 200


async def test_create_token_cannot_escalate_scopes(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    admin = await token_for(runtime, tenant, ["workspace:admin", "crm:read"])
    before = await count(runtime, ApiToken)
    r = await client.post(
        TOKENS, headers=bearer(admin), json={"name": "more", "scopes": ["crm:read", "crm:write"]}
    )
    error = assert_error(r, 403, "scope_escalation")
    assert "crm:write" in error["message"]
    assert await count(runtime, ApiToken) == before
    ok = await client.post(
        TOKENS, headers=bearer(admin), json={"name": "less", "scopes": ["crm:read"]}
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"]["scopes"] == ["crm:read"]


async def test_minted_token_inherits_abilities_and_expiry_over_mcp(
    runtime: Runtime, tenant: Tenant
) -> None:
    """An api:mcp-only token expiring in a day mints no api:rest token and none that
    outlives it (issue 14: the minted token had both abilities and no expiry)."""
    from tests.mcp_server.helpers import error_code, error_of, memory_client

    creator, creator_id = await make_token(
        runtime,
        tenant.workspace_id,
        scopes=["workspace:admin", "crm:read"],
        abilities=["api:mcp"],
        expires_in_days=1,
    )
    async with owner_session(runtime) as session:
        creator_expiry = (await session.get(ApiToken, (tenant.workspace_id, creator_id))).expires_at  # type: ignore[union-attr]
    async with memory_client(runtime, creator) as mcp:
        minted = await mcp.call_tool("create_token", {"name": "minted", "scopes": ["crm:read"]})
        assert not minted.is_error, minted.structured_content
        data = minted.structured_content["data"]  # type: ignore[index]
        assert data["abilities"] == ["api:mcp"]
        async with owner_session(runtime) as session:
            row = await session.get(ApiToken, (tenant.workspace_id, data["id"]))
        assert row is not None and row.expires_at == creator_expiry
        longer = await mcp.call_tool(
            "create_token", {"name": "longer", "scopes": ["crm:read"], "expires_in_days": 30}
        )
        async with owner_session(runtime) as session:
            longer_id = longer.structured_content["data"]["id"]  # type: ignore[index]
            row = await session.get(ApiToken, (tenant.workspace_id, longer_id))
        assert row is not None and row.expires_at == creator_expiry
        before = await count(runtime, ApiToken)
        wider = await mcp.call_tool(
            "create_token",
            {"name": "wider", "scopes": ["crm:read"], "abilities": ["api:rest", "api:mcp"]},
        )
        assert error_code(wider) == "ability_escalation"
        assert "api:rest" in error_of(wider)["message"]
        assert await count(runtime, ApiToken) == before


async def test_create_token_cannot_escalate_abilities_over_rest(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    rest_only = await token_for(runtime, tenant, ["workspace:admin"], abilities=["api:rest"])
    r = await client.post(
        TOKENS,
        headers=bearer(rest_only),
        json={"name": "x", "scopes": ["workspace:admin"], "abilities": ["api:mcp"]},
    )
    assert_error(r, 403, "ability_escalation")
    ok = await client.post(
        TOKENS,
        headers=bearer(rest_only),
        json={"name": "y", "scopes": ["workspace:admin"], "expires_in_days": 5},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"]["abilities"] == ["api:rest"]
    expires = ok.json()["data"]["expires_at"]
    assert expires.startswith((utcnow() + timedelta(days=5)).date().isoformat())


# ---------------------------------------------------------------- token management over REST


async def test_create_token_over_rest_returns_working_token_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await client.post(
        TOKENS,
        headers=tenant.headers,
        json={
            "name": "ci",
            "scopes": ["crm:read"],
            "abilities": ["api:rest"],
            "expires_in_days": 7,
        },
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["token"].startswith("pbt_") and data["id"].startswith("tok_")
    assert data["expires_at"] and data["abilities"] == ["api:rest"]
    me = await client.get(ME, headers=bearer(data["token"]))
    assert me.status_code == 200 and me.json()["data"]["token"]["id"] == data["id"]
    listed = (await client.get(TOKENS, headers=tenant.headers)).json()
    assert {t["id"] for t in listed["data"]} == {tenant.token_id, data["id"]}
    assert listed["next_cursor"] is None
    assert data["token"] not in str(listed)
    assert all("token" not in t and "token_hash" not in t for t in listed["data"])


async def test_list_tokens_hides_revoked_unless_asked(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    _, victim_id = await make_token(runtime, tenant.workspace_id)
    await client.delete(f"{TOKENS}/{victim_id}", headers=tenant.headers)
    active = (await client.get(TOKENS, headers=tenant.headers)).json()["data"]
    everything = (
        await client.get(TOKENS, params={"include_revoked": "true"}, headers=tenant.headers)
    ).json()["data"]
    assert victim_id not in {t["id"] for t in active}
    assert victim_id in {t["id"] for t in everything}


async def test_rest_token_limit_on_pro_and_revoking_frees_a_slot(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    created = []
    for i in range(4):  # the tenant's own token is the first of five
        r = await client.post(
            TOKENS, headers=tenant.headers, json={"name": f"t{i}", "scopes": ["crm:read"]}
        )
        assert r.status_code == 201, r.text
        created.append(r.json()["data"]["id"])
    sixth = await client.post(
        TOKENS, headers=tenant.headers, json={"name": "t6", "scopes": ["crm:read"]}
    )
    assert_error(sixth, 409, "token_limit_reached")
    assert await count(runtime, ApiToken, ApiToken.workspace_id == tenant.workspace_id) == 5
    assert (
        await client.delete(f"{TOKENS}/{created[0]}", headers=tenant.headers)
    ).status_code == 200
    again = await client.post(
        TOKENS, headers=tenant.headers, json={"name": "t6", "scopes": ["crm:read"]}
    )
    assert again.status_code == 201, again.text
    # Another workspace's tokens do not count against this one.
    other = await make_tenant(runtime, name="Other")
    assert (
        await client.post(TOKENS, headers=other.headers, json={"name": "x", "scopes": ["crm:read"]})
    ).status_code == 201


async def test_last_used_at_is_set_after_use(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, token_id = await make_token(runtime, tenant.workspace_id)
    async with owner_session(runtime) as session:
        assert (await session.get(ApiToken, (tenant.workspace_id, token_id))).last_used_at is None  # type: ignore[union-attr]
    before = utcnow()
    assert (await client.get(ME, headers=bearer(token))).status_code == 200
    async with owner_session(runtime) as session:
        used = (await session.get(ApiToken, (tenant.workspace_id, token_id))).last_used_at  # type: ignore[union-attr]
    assert used is not None and used >= before - timedelta(seconds=1)
    me = (await client.get(ME, headers=bearer(token))).json()["data"]
    assert me["token"]["last_used_at"]


# ---------------------------------------------------------------- audit log


async def audit_rows(runtime: Runtime, workspace_id: str) -> list[AuditEntry]:
    async with owner_session(runtime) as session:
        stmt = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
        return list((await session.execute(stmt.order_by(AuditEntry.id))).scalars())


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "outcome", "operation"),
    [
        ("GET", ME, None, 200, "ok", "get_me"),
        ("POST", TOKENS, {"name": "a", "scopes": ["crm:read"]}, 201, "ok", "create_token"),
        (
            "POST",
            TOKENS,
            {"name": 5, "scopes": ["crm:read"]},
            400,
            "validation_error",
            "create_token",
        ),
        ("GET", TOKENS, {"limit": "0"}, 400, "validation_error", "list_tokens"),
        ("GET", TOKENS, {"cursor": "nope"}, 400, "invalid_cursor", "list_tokens"),
        ("DELETE", f"{TOKENS}/tok_{'0' * 26}", None, 404, "token_not_found", "revoke_token"),
    ],
    ids=["get-ok", "post-ok", "post-400", "query-400", "cursor-400", "delete-404"],
)
async def test_every_call_writes_one_audit_row(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    outcome: str,
    operation: str,
) -> None:
    before = await audit_rows(runtime, tenant.workspace_id)
    if method == "POST":
        r = await client.post(path, headers=tenant.headers, json=body)
    else:
        r = await client.request(method, path, headers=tenant.headers, params=body)
    assert r.status_code == status, r.text
    after = await audit_rows(runtime, tenant.workspace_id)
    assert len(after) == len(before) + 1
    row = after[-1]
    assert row.token_id == tenant.token_id
    assert row.token_name == "test token"
    assert row.channel == "rest"
    assert row.operation == operation
    assert row.status == status
    assert row.outcome == outcome
    assert row.request_id == r.headers["X-Request-Id"]
    if operation == "create_token" and status == 201:
        assert row.resource_id == r.json()["data"]["id"]


async def test_scope_and_ability_failures_are_audited(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    reader, reader_id = await make_token(runtime, tenant.workspace_id, scopes=["crm:read"])
    mcp_only, mcp_id = await make_token(runtime, tenant.workspace_id, abilities=["api:mcp"])
    r1 = await client.get(AUDIT, headers=bearer(reader))
    r2 = await client.get(ME, headers=bearer(mcp_only))
    assert r1.status_code == r2.status_code == 403
    rows = {row.request_id: row for row in await audit_rows(runtime, tenant.workspace_id)}
    first = rows[r1.headers["X-Request-Id"]]
    second = rows[r2.headers["X-Request-Id"]]
    assert (first.token_id, first.status, first.outcome) == (reader_id, 403, "scope_missing")
    assert (second.token_id, second.status, second.outcome) == (
        mcp_id,
        403,
        "token_missing_api_rest_ability",
    )


async def test_audit_api_needs_admin_and_stays_in_workspace(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    for _ in range(3):
        await client.get(ME, headers=tenant.headers)
        await client.get(ME, headers=other_tenant.headers)
    r = await client.get(AUDIT, headers=tenant.headers)
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    ours = {row.id for row in await audit_rows(runtime, tenant.workspace_id)}
    theirs = {row.id for row in await audit_rows(runtime, other_tenant.workspace_id)}
    assert len(theirs) >= 3
    ids = {e["id"] for e in entries}
    assert ids and ids <= ours and not ids & theirs
    assert all(e["token_id"] == tenant.token_id for e in entries)
    assert [e["id"] for e in entries] == sorted(ids, reverse=True)
    assert "workspace_id" not in entries[0]
    # Filters narrow within the workspace only.
    filtered = await client.get(
        AUDIT, params={"token_id": other_tenant.token_id}, headers=tenant.headers
    )
    assert filtered.status_code == 200 and filtered.json()["data"] == []
    only_me = await client.get(AUDIT, params={"operation": "get_me"}, headers=tenant.headers)
    assert {e["operation"] for e in only_me.json()["data"]} == {"get_me"}


# ---------------------------------------------------------------- over a real socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_me_over_a_real_socket(app: Any, tenant: Tenant) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                ok = await http.get(ME, headers=tenant.headers)
                denied = await http.get(ME)
        finally:
            server.should_exit = True
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["workspace"]["id"] == tenant.workspace_id
    assert ok.headers["X-Request-Id"] == ok.json()["request_id"]
    assert ok.headers["X-RateLimit-Limit"] == "600"
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
