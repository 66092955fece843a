"""Token lifecycle in the service layer: storage, format, limits, expiry, concurrency."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core.config import to_async_url
from core.db import WorkspaceId, utcnow
from core.errors import NotFound, TokenLimitReached, Unauthenticated, ValidationFailed
from core.runtime import Runtime
from core.tokens import secrets, service
from core.tokens.models import ApiToken
from tests.factories import Tenant, make_token, make_workspace, owner_session


async def active_count(runtime: Runtime, workspace_id: str) -> int:
    async with owner_session(runtime) as session:
        stmt = (
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.workspace_id == workspace_id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
        )
        return int((await session.execute(stmt)).scalar_one())


async def all_text_in_database(runtime: Runtime) -> list[str]:
    """Every value of every column of every table, as text."""
    values: list[str] = []
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(sa.select(table))).all():
                for value in row:
                    if value is not None:
                        values.append(
                            json.dumps(value) if isinstance(value, dict | list) else str(value)
                        )
    return values


def sqlite_files(runtime: Runtime) -> list[Path]:
    path = Path(to_async_url(runtime.settings.database_url).split(":///", 1)[1])
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return [f for f in files if f.exists()]


async def assert_secret_nowhere(runtime: Runtime, plaintext: str) -> None:
    secret = plaintext.split("_", 2)[2]
    for text in await all_text_in_database(runtime):
        assert secret not in text and plaintext not in text
    if runtime.db.is_sqlite:
        files = sqlite_files(runtime)
        assert files
        for f in files:
            raw = f.read_bytes()
            assert secret.encode() not in raw, f"token secret found in {f.name}"


# ---------------------------------------------------------------- format and storage


def test_token_format_and_hash() -> None:
    issued = secrets.issue()
    prefix, body, secret = issued.plaintext.split("_", 2)
    assert prefix == "pbt"
    assert issued.token_id == f"tok_{body}"
    assert secrets.parse_token_id(issued.plaintext) == issued.token_id
    assert len(secret) >= 43  # 32 random bytes, url-safe base64: 256 bits
    assert issued.token_hash == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    assert secrets.matches(issued.plaintext, issued.token_hash)
    assert not secrets.matches(issued.plaintext + "x", issued.token_hash)
    assert secret not in issued.preview
    assert issued.preview.startswith("pbt_")
    assert len(issued.preview) < 20
    assert secrets.issue().plaintext != issued.plaintext


@pytest.mark.parametrize(
    "value",
    ["", "pbt", "pbt_x_y", "abc_01234567890123456789012345_" + "s" * 40, "pbt_short_" + "s" * 40],
)
def test_parse_token_id_rejects_other_shapes(value: str) -> None:
    assert secrets.parse_token_id(value) is None


async def test_plaintext_is_never_stored(runtime: Runtime) -> None:
    workspace_id = await make_workspace(runtime, plan="pro")
    async with owner_session(runtime) as session:
        created = await service.issue_token(
            session, workspace_id, name="scan me", scopes=["crm:read"], expires_in_days=5
        )
    plaintext = created.token
    async with owner_session(runtime) as session:
        row = await session.get(ApiToken, (workspace_id, created.id))
        assert row is not None
        assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext.split("_", 2)[2] not in row.preview
        for column in ApiToken.__table__.columns:  # type: ignore[attr-defined]
            value = getattr(row, column.name)
            assert plaintext not in str(value)
    await assert_secret_nowhere(runtime, plaintext)


async def test_token_created_over_rest_with_idempotency_key_is_not_stored(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """The stored idempotent response must not keep the secret (SPEC §2: hash and preview
    only). A replay therefore answers the token's metadata without the secret."""
    body = {"name": "retry-safe", "scopes": ["crm:read"]}
    headers = {**tenant.headers, "Idempotency-Key": "create-once"}
    r = await client.post("/api/v1/tokens", headers=headers, json=body)
    assert r.status_code == 201, r.text
    plaintext = r.json()["data"]["token"]
    await assert_secret_nowhere(runtime, plaintext)
    replay = await client.post("/api/v1/tokens", headers=headers, json=body)
    assert replay.status_code == 201
    assert "token" not in replay.json()["data"]
    assert replay.json()["data"]["id"] == r.json()["data"]["id"]
    assert plaintext not in replay.text


# ---------------------------------------------------------------- authenticate


async def test_authenticate_resolves_principal(runtime: Runtime, tenant: Tenant) -> None:
    async with owner_session(runtime) as session:
        principal = await service.authenticate(session, tenant.token)
    assert principal.token_id == tenant.token_id
    assert principal.workspace_id == tenant.workspace_id
    assert principal.plan.name == "pro"
    assert "workspace:admin" in principal.scopes


async def test_revoked_and_expired_tokens_fail_authentication(
    runtime: Runtime, tenant: Tenant
) -> None:
    expiring, expiring_id = await make_token(runtime, tenant.workspace_id, expires_in_days=1)
    revoked, revoked_id = await make_token(runtime, tenant.workspace_id)
    async with owner_session(runtime) as session:
        await service.authenticate(session, expiring)
        await service.authenticate(session, revoked)
        await service.revoke_token(session, tenant.workspace_id, revoked_id)
        await session.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == expiring_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with owner_session(runtime) as session:
        for token in (expiring, revoked, None, "", "pbt_garbage"):
            with pytest.raises(Unauthenticated):
                await service.authenticate(session, token)
        await service.authenticate(session, tenant.token)


async def test_revoke_is_scoped_to_the_workspace(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with owner_session(runtime) as session:
        with pytest.raises(NotFound) as info:
            await service.revoke_token(session, tenant.workspace_id, other_tenant.token_id)
    assert info.value.code == "token_not_found"
    async with owner_session(runtime) as session:
        row = await session.get(ApiToken, (other_tenant.workspace_id, other_tenant.token_id))
        assert row is not None and row.revoked_at is None


async def test_touch_last_used(runtime: Runtime, tenant: Tenant) -> None:
    async with owner_session(runtime) as session:
        principal = await service.authenticate(session, tenant.token)
        await service.touch_last_used(session, principal)
    async with owner_session(runtime) as session:
        row = await session.get(ApiToken, (tenant.workspace_id, tenant.token_id))
        assert row is not None and row.last_used_at is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scopes": ["nope:read"]},
        {"scopes": ["crm:read"], "abilities": ["api:grpc"]},
        {"scopes": ["crm:read"], "name": "   "},
        {"scopes": ["crm:read"], "expires_in_days": 0},
    ],
)
async def test_issue_token_validates(runtime: Runtime, kwargs: dict[str, Any]) -> None:
    workspace_id = await make_workspace(runtime)
    kwargs.setdefault("name", "x")
    async with owner_session(runtime) as session:
        with pytest.raises(ValidationFailed):
            await service.issue_token(session, workspace_id, **kwargs)
    assert await active_count(runtime, workspace_id) == 0


async def test_issue_token_for_unknown_workspace(runtime: Runtime) -> None:
    async with owner_session(runtime) as session:
        with pytest.raises(NotFound):
            await service.issue_token(
                session, WorkspaceId(f"wrk_{'0' * 26}"), name="x", scopes=["crm:read"]
            )


# ---------------------------------------------------------------- active token limits


@pytest.mark.parametrize(("plan", "limit"), [("starter", 5), ("pro", 5), ("custom", 25)])
async def test_active_token_limit_per_plan(runtime: Runtime, plan: str, limit: int) -> None:
    workspace_id = await make_workspace(runtime, plan=plan)
    ids = [(await make_token(runtime, workspace_id))[1] for _ in range(limit)]
    with pytest.raises(TokenLimitReached) as info:
        await make_token(runtime, workspace_id)
    assert info.value.code == "token_limit_reached" and info.value.status == 409
    assert await active_count(runtime, workspace_id) == limit
    async with owner_session(runtime) as session:
        await service.revoke_token(session, workspace_id, ids[0])
    await make_token(runtime, workspace_id)  # the revoked token freed a slot
    assert await active_count(runtime, workspace_id) == limit


async def test_expired_tokens_do_not_count_against_the_limit(runtime: Runtime) -> None:
    workspace_id = await make_workspace(runtime, plan="pro")
    for _ in range(5):
        await make_token(runtime, workspace_id, expires_in_days=1)
    with pytest.raises(TokenLimitReached):
        await make_token(runtime, workspace_id)
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(ApiToken)
            .where(ApiToken.workspace_id == workspace_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await make_token(runtime, workspace_id)


async def test_concurrent_issuers_cannot_overshoot_the_limit(runtime: Runtime) -> None:
    workspace_id = await make_workspace(runtime, plan="pro")
    for _ in range(4):
        await make_token(runtime, workspace_id)
    outcomes: list[str] = []

    async def attempt(i: int) -> None:
        try:
            await make_token(runtime, workspace_id, name=f"race {i}")
            outcomes.append("created")
        except TokenLimitReached:
            outcomes.append("limit")

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(attempt, i)
    assert outcomes.count("created") == 1
    assert outcomes.count("limit") == 19
    assert await active_count(runtime, workspace_id) == 5


async def test_a_minted_token_is_never_faster_than_its_creator(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    slow, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=30)
    headers = {"Authorization": f"Bearer {slow}"}
    for asked, got in ((1000, 30), (10, 10), (None, 30)):
        body: dict[str, Any] = {"name": "minted", "scopes": ["crm:read"]}
        if asked is not None:
            body["rate_limit_per_minute"] = asked
        r = await client.post("/api/v1/tokens", headers=headers, json=body)
        assert r.status_code == 201, r.text
        minted = {"Authorization": f"Bearer {r.json()['data']['token']}"}
        me = await client.get("/api/v1/me", headers=minted)
        assert me.headers["X-RateLimit-Limit"] == str(got), asked
    r = await client.post(
        "/api/v1/tokens", headers=tenant.headers,
        json={"name": "x", "scopes": ["crm:read"], "rate_limit_per_minute": 0},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"


# ---------------------------------------------------------------- area:* scopes


async def test_area_wildcards_are_expanded_when_the_token_is_minted(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"name": "wild", "scopes": ["tasks:*", "workflows:*", "crm:read"]}
    r = await client.post("/api/v1/tokens", headers=tenant.headers, json=body)
    assert r.status_code == 201, r.text
    expanded = [
        "crm:read",
        "tasks:read",
        "tasks:write",
        "workflows:read",
        "workflows:run",
        "workflows:write",
    ]
    assert r.json()["data"]["scopes"] == expanded
    # Stored concrete: a scope added to the area later does not widen this token.
    from core import scopes as catalogue

    monkeypatch.setitem(catalogue.SCOPE_AREAS, "tasks", ("tasks:read", "tasks:write", "tasks:x"))
    async with runtime.db.session() as session:
        principal = await service.authenticate(session, r.json()["data"]["token"])
    assert sorted(principal.scopes) == sorted(expanded)


async def test_an_unknown_scope_is_refused_with_the_valid_ones(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await client.post(
        "/api/v1/tokens", headers=tenant.headers, json={"name": "x", "scopes": ["tasks:all"]}
    )
    assert r.status_code == 400, r.text
    text = json.dumps(r.json()["error"])
    assert "tasks:read" in text and "tasks:*" in text and "workspace:admin" in text


async def test_a_wildcard_never_escalates(runtime: Runtime, client: httpx.AsyncClient) -> None:
    from tests.factories import make_tenant

    narrow = await make_tenant(runtime, scopes=["workspace:admin", "crm:read"])
    r = await client.post(
        "/api/v1/tokens", headers=narrow.headers, json={"name": "x", "scopes": ["crm:*"]}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_escalation"
    assert "crm:write" in r.json()["error"]["message"]


def test_parse_scopes_shorthands_and_errors() -> None:
    from core.scopes import ALL_SCOPES, parse_scopes

    assert parse_scopes("tasks:*,workflows:read|run") == [
        "tasks:read",
        "tasks:write",
        "workflows:read",
        "workflows:run",
    ]
    assert parse_scopes("*") == list(ALL_SCOPES)
    with pytest.raises(ValueError, match="Valid scopes: crm:read") as info:
        parse_scopes("crm:read,nope:*")
    assert "nope:*" in str(info.value) and "workflows:*" in str(info.value)
