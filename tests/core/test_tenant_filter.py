"""The tenant safety net (core.db): a session bound to a workspace only sees its rows,
even for queries that forgot the ``workspace_id`` condition."""

from __future__ import annotations

import anyio
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from core.audit.models import AuditEntry
from core.db import WorkspaceId
from core.runtime import Runtime
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace
from tests.factories import Tenant, make_token, owner_session


async def seed(runtime: Runtime, tenant: Tenant, other: Tenant) -> None:
    """Two tokens each, and audit rows in both workspaces (through the gateway)."""
    from core.gateway import call_operation
    from core.operations import Channel

    await make_token(runtime, tenant.workspace_id, name="a2")
    await make_token(runtime, other.workspace_id, name="b2")
    get_me = runtime.registry.get("get_me")
    assert get_me is not None
    for t in (tenant, other, other):
        outcome = await call_operation(
            runtime, get_me, credentials=t.token, channel=Channel.rest, arguments={}
        )
        assert outcome.status == 200


async def test_select_without_workspace_condition_is_scoped(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    await seed(runtime, tenant, other_tenant)
    async with owner_session(runtime) as session:  # across workspaces, as the owner
        everything = list((await session.execute(select(ApiToken))).scalars())
    assert {t.workspace_id for t in everything} == {tenant.workspace_id, other_tenant.workspace_id}
    async with runtime.db.session(workspace_id=tenant.workspace_id) as session:
        tokens = list((await session.execute(select(ApiToken))).scalars())
        audit = list((await session.execute(select(AuditEntry))).scalars())
        joined = (
            await session.execute(
                select(AuditEntry, ApiToken).join(ApiToken, ApiToken.id == AuditEntry.token_id)
            )
        ).all()
        alias = aliased(ApiToken)
        aliased_rows = list((await session.execute(select(alias))).scalars())
        by_name = list(
            (await session.execute(select(ApiToken).where(ApiToken.name == "b2"))).scalars()
        )
    assert len(tokens) == 2 and {t.workspace_id for t in tokens} == {tenant.workspace_id}
    assert len(audit) == 1 and audit[0].workspace_id == tenant.workspace_id
    assert len(joined) == 1
    assert {t.workspace_id for t in aliased_rows} == {tenant.workspace_id}
    assert by_name == []


async def test_count_and_get_are_scoped(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    await seed(runtime, tenant, other_tenant)
    async with runtime.db.session(workspace_id=tenant.workspace_id) as session:
        count = (await session.execute(select(func.count(ApiToken.id)))).scalar_one()
        # (the key names the other workspace: only the filter stands in the way)
        foreign = await session.get(ApiToken, (other_tenant.workspace_id, other_tenant.token_id))
        own = await session.get(ApiToken, (tenant.workspace_id, tenant.token_id))
    assert count == 2
    assert foreign is None
    assert own is not None


async def test_orm_update_and_delete_without_condition_touch_only_the_workspace(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    await seed(runtime, tenant, other_tenant)
    async with runtime.db.session(workspace_id=tenant.workspace_id) as session:
        updated = await session.execute(sa.update(ApiToken).values(name="renamed"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]
        deleted = await session.execute(sa.delete(AuditEntry))
        assert deleted.rowcount == 1  # type: ignore[attr-defined]
    async with owner_session(runtime) as session:
        rows = list((await session.execute(select(ApiToken))).scalars())
        audit = list((await session.execute(select(AuditEntry))).scalars())
    names = {(t.workspace_id, t.name) for t in rows}
    assert (tenant.workspace_id, "renamed") in names
    assert {n for w, n in names if w == other_tenant.workspace_id} == {"test token", "b2"}
    assert {a.workspace_id for a in audit} == {other_tenant.workspace_id}
    assert len(audit) == 2


async def test_skip_option_and_unowned_tables(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with runtime.db.session(workspace_id=tenant.workspace_id) as session:
        all_tokens = (
            await session.execute(select(ApiToken).execution_options(skip_tenant_filter=True))
        ).scalars()
        # Workspaces are not workspace-owned rows: the filter leaves them alone.
        workspaces = list((await session.execute(select(Workspace))).scalars())
    # the ORM filter is skipped; on PostgreSQL row-level security still applies
    both = {tenant.workspace_id, other_tenant.workspace_id}
    expected = both if runtime.db.is_sqlite else {tenant.workspace_id}
    assert {t.workspace_id for t in all_tokens} == expected
    assert len(workspaces) == 2


async def test_binding_is_per_session(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    other = WorkspaceId(other_tenant.workspace_id)
    async with (
        runtime.db.session(workspace_id=other, read_only=True) as b,
        runtime.db.session(workspace_id=tenant.workspace_id, read_only=True) as a,
    ):
        in_a = list((await a.execute(select(ApiToken))).scalars())
        in_b = list((await b.execute(select(ApiToken))).scalars())
    assert [t.id for t in in_a] == [tenant.token_id]
    assert [t.id for t in in_b] == [other_tenant.token_id]


async def test_concurrent_sessions_of_two_workspaces_never_mix(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    """The filter's workspace is bound per executing statement: many tasks of two
    workspaces interleaving their queries each only ever see their own rows."""
    seen: dict[str, set[str]] = {tenant.workspace_id: set(), other_tenant.workspace_id: set()}

    async def reader(workspace_id: WorkspaceId) -> None:
        for _ in range(10):
            async with runtime.db.session(workspace_id=workspace_id, read_only=True) as s:
                rows = (await s.execute(select(ApiToken))).scalars()
                seen[workspace_id] |= {t.workspace_id for t in rows}
                await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(reader, WorkspaceId(tenant.workspace_id))
            tg.start_soon(reader, WorkspaceId(other_tenant.workspace_id))
    assert seen == {
        tenant.workspace_id: {tenant.workspace_id},
        other_tenant.workspace_id: {other_tenant.workspace_id},
    }
