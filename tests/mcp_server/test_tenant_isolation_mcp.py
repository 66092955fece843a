"""Workspace B's token over MCP can never reach workspace A's records.

Every tool with a path id, called with B's token and A's id, answers a ``*_not_found``
tool error and writes nothing to A; A's own token reaches the same record. Record types
come from the domains' manifests; token ids are covered here as well.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from mcp import Client
from sqlmodel import SQLModel

from core.runtime import Runtime
from tests.domains import suite_platform as platform
from tests.factories import Tenant, owner_session
from tests.mcp_server.helpers import error_code, mcp_caller, memory_client
from tests.op_samples import create as create_record
from tests.op_samples import record_type, record_types, sample_args

WITH_PATH_IDS = [op for op in platform().registry if op.path_params and op.mcp_tool]


async def row_counts(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """Rows (and revocation state of tokens) per workspace-owned table."""
    counts: dict[str, Any] = {}
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            if "workspace_id" not in table.c:
                continue
            stmt = sa.select(sa.func.count()).select_from(table)
            counts[table.name] = (
                await session.execute(stmt.where(table.c.workspace_id == workspace_id))
            ).scalar_one()
        tokens = SQLModel.metadata.tables["api_tokens"]
        revoked = sa.select(sa.func.count()).select_from(tokens)
        revoked = revoked.where(
            tokens.c.workspace_id == workspace_id, tokens.c.revoked_at.is_not(None)
        )
        counts["revoked_tokens"] = (await session.execute(revoked)).scalar_one()
    return counts


async def create(client: Client, type_: str) -> str:
    """A record of ``type_`` created over MCP, as its domain's manifest says."""
    return await create_record(mcp_caller(client), type_)


@pytest.mark.parametrize("op_name", [op.name for op in WITH_PATH_IDS])
async def test_foreign_path_id_is_not_found_and_writes_nothing(
    op_name: str, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    unknown = [p for p in op.path_params if record_type(p) not in record_types()]
    assert not unknown, f"no record type creates {unknown}: declare it in Domain.records"
    a_ids: dict[str, str] = {}
    async with memory_client(runtime, tenant.token) as owner:
        for param in op.path_params:
            if param == "token_id":
                a_ids[param] = tenant.token_id
            else:
                a_ids[param] = await create(owner, record_type(param))
    before = await row_counts(runtime, tenant.workspace_id)
    arguments = {**sample_args(op), **a_ids}
    async with memory_client(runtime, other_tenant.token) as intruder:
        result = await intruder.call_tool(op.name, arguments)
    code = error_code(result)
    assert code is not None and code.endswith("_not_found"), code
    assert await row_counts(runtime, tenant.workspace_id) == before
    if op.name in ("revoke_token", "rotate_token"):
        return  # the owner's own check would revoke (or rotate) the token its client uses
    async with memory_client(runtime, tenant.token) as owner:
        result = await owner.call_tool(op.name, arguments)
        if result.is_error:
            assert not str(error_code(result)).endswith("_not_found"), result.structured_content


async def test_revoke_foreign_token_leaves_it_working(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with memory_client(runtime, other_tenant.token) as intruder:
        result = await intruder.call_tool("revoke_token", {"token_id": tenant.token_id})
        assert error_code(result) == "token_not_found"
    async with memory_client(runtime, tenant.token) as owner:
        me = await owner.call_tool("get_me", {})
        assert not me.is_error
