"""core.audit.writer: audit rows written after the call are group-committed, never lost."""

from __future__ import annotations

import anyio
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.audit.writer import AuditWriteFailed, AuditWriter
from core.runtime import Runtime
from core.tokens.models import ApiToken
from tests.factories import Tenant, owner_session


def _fields(tenant: Tenant, i: int) -> dict[str, object]:
    return {
        "workspace_id": tenant.workspace_id,
        "token_id": tenant.token_id,
        "token_name": "t",
        "channel": "rest",
        "operation": f"op_{i}",
        "status": 200,
        "outcome": "ok",
        "request_id": f"req_{i}",
    }


async def _count(runtime: Runtime) -> int:
    async with owner_session(runtime) as session:
        return (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()


async def test_concurrent_rows_share_commits_and_all_land(runtime: Runtime, tenant: Tenant) -> None:
    writer = AuditWriter(runtime.db)
    before = await _count(runtime)

    async def write(i: int) -> None:
        await writer.write(touch_token=True, **_fields(tenant, i))
        # Returned: the row is already committed (visible to a new session).
        async with owner_session(runtime) as session:
            stmt = select(AuditEntry).where(AuditEntry.request_id == f"req_{i}")
            assert (await session.execute(stmt)).scalar_one_or_none() is not None

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(write, i)
    assert await _count(runtime) == before + 40
    assert writer.commits < 40  # batched: rows that arrived during a commit shared the next
    async with owner_session(runtime) as session:
        token = await session.get(ApiToken, (tenant.workspace_id, tenant.token_id))
        assert token is not None and token.last_used_at is not None


async def test_a_failed_commit_fails_every_caller_of_its_batch(
    runtime: Runtime, tenant: Tenant
) -> None:
    writer = AuditWriter(runtime.db)
    bad = {**_fields(tenant, 0), "workspace_id": "wrk_does_not_exist"}  # foreign key fails
    results: list[str] = []

    async def write(fields: dict[str, object]) -> None:
        try:
            await writer.write(**fields)
            results.append("ok")
        except AuditWriteFailed:
            results.append("failed")

    # The first call commits alone; the three arriving meanwhile share the next batch,
    # which the bad row spoils for all of them.
    async with anyio.create_task_group() as tg:
        tg.start_soon(write, _fields(tenant, 1))
        await anyio.sleep(0)
        for fields in (bad, _fields(tenant, 2), _fields(tenant, 3)):
            tg.start_soon(write, fields)
    assert sorted(results) == ["failed", "failed", "failed", "ok"]
    await writer.write(**_fields(tenant, 4))  # the writer keeps working afterwards
    async with owner_session(runtime) as session:
        stmt = select(AuditEntry.request_id).where(AuditEntry.operation.like("op_%"))
        assert set((await session.execute(stmt)).scalars()) == {"req_1", "req_4"}


async def test_a_read_is_audited_by_the_time_it_returns(runtime: Runtime, tenant: Tenant) -> None:
    """SQLite: through the writer (reads hold no write lock); PostgreSQL: in the read's
    own transaction. Either way the row is committed when the call returns."""
    from core.gateway import call_operation
    from core.operations import Channel

    op = runtime.registry.get("search_contacts")
    assert op is not None
    outcome = await call_operation(
        runtime, op, credentials=tenant.token, channel=Channel.mcp, arguments={}
    )
    assert outcome.ok
    async with owner_session(runtime) as session:
        stmt = select(AuditEntry).where(AuditEntry.request_id == outcome.request_id)
        row = (await session.execute(stmt)).scalar_one()
    assert (row.operation, row.outcome, row.channel) == ("search_contacts", "ok", "mcp")
    assert runtime.audit.commits == (1 if runtime.db.is_sqlite else 0)
