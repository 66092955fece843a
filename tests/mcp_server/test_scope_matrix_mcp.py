"""Every scoped operation × its scope missing → tool error ``scope_missing`` over MCP.

Generated over the registry (in memory, official client). A tool the token's scopes
hide is not listed, but calling it anyway answers ``scope_missing`` naming the scope
(not ``tool_not_found``), so a model or a developer learns what to ask for.
"""

from __future__ import annotations

import pytest

from core.operations import PSEUDO_SCOPES
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from tests.domains import suite_platform as platform
from tests.factories import Tenant, token_for
from tests.mcp_server.helpers import error_code, error_of, memory_client, tool_names
from tests.op_samples import sample_args

SCOPED = [op for op in platform().registry if op.scope not in PSEUDO_SCOPES and op.mcp_tool]


def _arguments(op_name: str) -> dict[str, object]:
    op = platform().registry.get(op_name)
    assert op is not None
    args = dict(sample_args(op))
    for param in op.path_params:
        args.setdefault(param, "x_01aaaaaaaaaaaaaaaaaaaaaaaa")
    return args


@pytest.mark.parametrize("op_name", [op.name for op in SCOPED])
async def test_missing_scope_is_a_tool_error(
    op_name: str, runtime: Runtime, tenant: Tenant
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None and op.scope in ALL_SCOPES
    without = await token_for(runtime, tenant, [s for s in ALL_SCOPES if s != op.scope])
    async with memory_client(runtime, without) as client:
        assert op.name not in await tool_names(client)
        result = await client.call_tool(op.name, _arguments(op.name))
        assert error_code(result) == "scope_missing"
        assert op.scope in error_of(result)["message"]

    only = await token_for(runtime, tenant, [op.scope])
    async with memory_client(runtime, only) as client:
        assert op.name in await tool_names(client)
        result = await client.call_tool(op.name, _arguments(op.name))
        if result.is_error:
            assert error_code(result) != "scope_missing", result.structured_content
