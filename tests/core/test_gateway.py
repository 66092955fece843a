"""core.gateway.dispatch: order of checks, transactions, audit and error mapping.

Uses a small registry of probe operations next to the real ones, so every guard can be
exercised without depending on other domains.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.config import Settings
from core.db import Database
from core.domain import Domain
from core.errors import Conflict, ValidationFailed
from core.events.models import DomainEvent
from core.gateway import call_operation
from core.operations import Channel, Context, Kind, Operation, Registry, Toolset
from core.pagination import ListParams, Page
from core.platform import Platform
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.workspaces import service as workspaces
from core.workspaces.models import WorkspaceStatus
from patchbay.domains import DOMAINS
from tests.factories import Tenant, make_tenant, make_token, owner_session


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, description="How many events to emit.")
    fail: str | None = Field(default=None, description="'domain' or 'crash' after writing.")


class ProbeOut(BaseModel):
    emitted: int
    note: str | None = None


async def probe(ctx: Context, args: ProbeIn) -> ProbeOut:
    for i in range(args.count):
        await ctx.emit("probe.happened", {"i": i})
    ctx.resource_id = "prb_1"
    if args.fail == "domain":
        raise Conflict("Probe refused.", code="probe_refused")
    if args.fail == "crash":
        raise RuntimeError("secret internals: password=hunter2")
    return ProbeOut(emitted=args.count)


class ProbeListIn(ListParams):
    model_config = ConfigDict(extra="forbid")


async def probe_list(ctx: Context, args: ProbeListIn) -> Page[dict[str, Any]]:
    return Page([{"emitted": 1}, {"emitted": 2, "note": None}], "next")


def probe_op(name: str, **kw: Any) -> Operation:
    defaults: dict[str, Any] = {
        "name": name,
        "summary": "Probe",
        "description": "Test probe.",
        "scope": "crm:write",
        "kind": Kind.write,
        "toolset": "probe",
        "method": "POST",
        "path": f"/probe/{name}",
        "input_model": ProbeIn,
        "output_model": ProbeOut,
        "handler": probe,
    }
    return Operation(**{**defaults, **kw})


PROBES = [
    probe_op("probe_write"),
    probe_op("probe_workflows", feature="workflows"),
    probe_op("probe_crm_module", module="crm"),
    probe_op(
        "probe_list",
        kind=Kind.read,
        scope="crm:read",
        method="GET",
        input_model=ProbeListIn,
        handler=probe_list,
        paginated=True,
    ),
]


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    probes = Platform.assemble(
        [*DOMAINS, Domain("probes", operations=PROBES, toolsets=[Toolset("probe", "Probes.")])]
    )
    runtime = Runtime(settings, Database(settings.database_url), RateLimiter(None), probes)
    try:
        yield runtime
    finally:
        await runtime.close()


async def call(
    rt: Runtime, name: str, token: str | None, channel: Channel = Channel.mcp, **arguments: Any
) -> Any:
    op = rt.registry.get(name)
    assert op is not None
    return await call_operation(rt, op, credentials=token, channel=channel, arguments=arguments)


async def count(rt: Runtime, model: Any, *where: Any) -> int:
    async with owner_session(rt) as session:
        stmt = select(func.count()).select_from(model)
        for cond in where:
            stmt = stmt.where(cond)
        return int((await session.execute(stmt)).scalar_one())


async def test_success_commits_write_and_audit_together(rt: Runtime) -> None:
    t = await make_tenant(rt)
    outcome = await call(rt, "probe_write", t.token, count=3)
    assert outcome.ok and outcome.status == 200
    assert outcome.body == {"data": {"emitted": 3}, "request_id": outcome.request_id}
    assert await count(rt, DomainEvent) == 3
    async with owner_session(rt) as session:
        (row,) = (await session.execute(select(AuditEntry))).scalars()
    assert (row.channel, row.operation, row.status, row.outcome) == (
        "mcp",
        "probe_write",
        200,
        "ok",
    )
    assert (row.token_id, row.resource_id, row.request_id) == (
        t.token_id,
        "prb_1",
        outcome.request_id,
    )


@pytest.mark.parametrize(
    ("fail", "status", "code"), [("domain", 409, "probe_refused"), ("crash", 500, "internal_error")]
)
async def test_failing_handler_rolls_back_and_is_audited(
    rt: Runtime, fail: str, status: int, code: str
) -> None:
    t = await make_tenant(rt)
    outcome = await call(rt, "probe_write", t.token, count=2, fail=fail)
    assert outcome.status == status
    assert outcome.body["error"]["code"] == code
    assert outcome.body["error"]["request_id"] == outcome.request_id
    assert "hunter2" not in str(outcome.body) and "RuntimeError" not in str(outcome.body)
    assert await count(rt, DomainEvent) == 0  # the handler's writes were rolled back
    async with owner_session(rt) as session:
        rows = list((await session.execute(select(AuditEntry))).scalars())
    assert [(r.status, r.outcome, r.resource_id) for r in rows] == [(status, code, None)]


async def test_authentication_comes_before_everything(rt: Runtime) -> None:
    outcome = await call(rt, "probe_write", None, count="not a number")
    assert outcome.status == 401 and outcome.body["error"]["code"] == "unauthenticated"
    outcome = await call(rt, "probe_write", "pbt_nope", count=1)
    assert outcome.status == 401
    assert await count(rt, AuditEntry) == 0 and await count(rt, DomainEvent) == 0


async def test_scope_comes_before_validation(rt: Runtime) -> None:
    t = await make_tenant(rt, scopes=["crm:read"])
    outcome = await call(rt, "probe_write", t.token, count="x")
    assert outcome.status == 403
    assert outcome.body["error"]["code"] == "scope_missing"
    assert outcome.body["error"]["details"] == {"required_scope": "crm:write"}


async def test_validation_is_strict_for_json_and_lax_for_query(rt: Runtime) -> None:
    t = await make_tenant(rt)
    outcome = await call(rt, "probe_write", t.token, count="2")
    assert outcome.status == 400 and outcome.body["error"]["code"] == "validation_error"
    assert outcome.body["error"]["details"]["errors"][0]["field"] == "count"
    listed = await call(rt, "probe_list", t.token, limit=5)
    assert listed.status == 200
    assert listed.body["data"] == [{"emitted": 1}, {"emitted": 2}]  # None fields omitted
    assert listed.body["next_cursor"] == "next"


async def test_mcp_channel_needs_mcp_ability(rt: Runtime, tenant: Tenant) -> None:
    token, _ = await make_token(rt, tenant.workspace_id, abilities=["api:rest"])
    outcome = await call(rt, "probe_write", token, channel=Channel.mcp)
    assert outcome.status == 403
    assert outcome.body["error"]["code"] == "token_missing_api_mcp_ability"
    assert (await call(rt, "probe_write", token, channel=Channel.rest)).status == 200


@pytest.mark.parametrize(("plan", "status"), [("starter", 403), ("growth", 200), ("pro", 200)])
async def test_feature_is_gated_by_plan(rt: Runtime, plan: str, status: int) -> None:
    t = await make_tenant(rt, plan=plan)
    outcome = await call(rt, "probe_workflows", t.token)
    assert outcome.status == status, outcome.body
    if status == 403:
        assert outcome.body["error"]["code"] == "tier_not_entitled"
        assert await count(rt, DomainEvent) == 0


async def test_module_must_be_enabled(rt: Runtime) -> None:
    async with owner_session(rt) as session:
        ws = await workspaces.create_workspace(session, "No CRM", "pro", modules=["tasks"])
    token, _ = await make_token(rt, ws.id)  # type: ignore[arg-type]
    outcome = await call(rt, "probe_crm_module", token)
    assert outcome.status == 403 and outcome.body["error"]["code"] == "module_not_enabled"
    assert (await call(rt, "probe_write", token)).status == 200


@pytest.mark.parametrize("status", [WorkspaceStatus.archived, WorkspaceStatus.closed])
async def test_inactive_workspace_is_refused(
    rt: Runtime, tenant: Tenant, status: WorkspaceStatus
) -> None:
    async with owner_session(rt) as session:
        await workspaces.set_status(session, tenant.workspace_id, status)
    outcome = await call(rt, "probe_write", tenant.token)
    assert outcome.status == 403 and outcome.body["error"]["code"] == "workspace_inactive"
    assert await count(rt, DomainEvent) == 0


async def test_request_ids_are_unique(rt: Runtime, tenant: Tenant) -> None:
    ids = {(await call(rt, "get_me", tenant.token)).request_id for _ in range(5)}
    assert len(ids) == 5 and all(i.startswith("req_") for i in ids)


def test_registry_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError):
        Registry([probe_op("probe_write"), probe_op("probe_write")])
    with pytest.raises(ValueError):
        Registry([probe_op("BadName")])
    with pytest.raises(ValueError):
        Registry([probe_op("probe_x", scope="nonsense")])
    with pytest.raises(ValueError):
        Registry([probe_op("probe_y", path="/probe/{missing}")])


def test_a_length_limit_on_an_optional_name_speaks_of_characters() -> None:
    """Pydantic checks an optional ``OneLine``'s length after the union and calls the
    characters "items"; the gate says characters, as for any other string."""
    from core.gateway import validate_arguments
    from patchbay.domains import platform

    op = platform().registry.get("update_contact")
    assert op is not None
    with pytest.raises(ValidationFailed) as caught:
        validate_arguments(op, {"contact_id": "con_1", "title": "x" * 201}, strings=False)
    expected = "Invalid value for 'title': String should have at most 200 characters."
    assert caught.value.message == expected
