"""Every tool's successful result validates against the output schema it declares, and
its ``openWorldHint`` is honest.

Generated over the registry: each tool is called through the official client (which
itself re-validates structured content against the listed output schema) with the
samples of the domains' manifests, twice over so that every list has rows the second
time. A tool whose call emitted a domain event (which webhook endpoints receive) must
declare ``open_world``.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from jsonschema import Draft7Validator, Draft202012Validator

from core.db import WorkspaceId
from core.events.models import DomainEvent
from core.runtime import Runtime
from mcp_server.adapter import tool_for
from tests.domains import suite_platform as platform
from tests.factories import make_tenant
from tests.mcp_server.helpers import mcp_caller, memory_client
from tests.op_samples import full_args, sample_args

TOOLS = [op for op in platform().registry if op.mcp_tool]
LAST = ("erase_contact", "revoke_token")
"""Run at the end of each round: they take away what the others use."""
THREAD_ITEMS = {"list_messages": "create_message", "list_notes": "create_note"}
"""Lists inside a conversation (its path id is a new one): what to add first to list."""
LIFECYCLE = ("archive_workspace", "restore_workspace")
"""Run back to back before ``LAST`` (archived, every other tool is refused)."""
ONE_WAY = ("close_workspace",)
"""Not called here: nothing answers after it (``tests/workspaces/test_lifecycle.py``
validates its result against its schema)."""


async def _events(runtime: Runtime, workspace_id: str) -> int:
    async with runtime.db.session(WorkspaceId(workspace_id), read_only=True) as session:
        stmt = sa.select(sa.func.count()).where(DomainEvent.workspace_id == workspace_id)
        return (await session.execute(stmt)).scalar_one()


THREADS = {
    "list_support_ticket_messages": "add_support_ticket_message",
    "list_support_ticket_comments": "add_support_ticket_comment",
}


async def test_results_validate_and_open_world_is_honest(runtime: Runtime) -> None:
    # custom plan: two rounds of create_token, rotate_token and revoke_token each mint a
    # token (rotate's and revoke's to act on), beyond the pro plan's five
    tenant = await make_tenant(runtime, plan="custom")
    ordered = [op for op in TOOLS if op.name not in LAST + LIFECYCLE + ONE_WAY]
    ordered += [runtime.registry.get(name) for name in LIFECYCLE + LAST]  # type: ignore[misc]
    emitted: dict[str, bool] = {}
    async with memory_client(runtime, tenant.token) as client:
        for round_ in (1, 2):
            for op in ordered:
                if op.name == "revoke_token" and round_ == 1:
                    continue  # the token must stay valid for round 2
                args = await full_args(mcp_caller(client), op)
                if op.name == "list_webhook_deliveries":  # a delivery to list
                    await client.call_tool("send_test_webhook_event", args)
                if op.name in THREADS:  # a message or comment to list
                    thread_args = {"ticket_id": args["ticket_id"], "body": "Hello"}
                    await client.call_tool(THREADS[op.name], thread_args)
                if op.name in THREAD_ITEMS:  # a message or note in the new conversation
                    await client.call_tool(THREAD_ITEMS[op.name], {
                        **sample_args(runtime.registry.get(THREAD_ITEMS[op.name])),  # type: ignore[arg-type]
                        "conversation_id": args["conversation_id"],
                    })  # fmt: skip
                before = await _events(runtime, tenant.workspace_id)
                # the client validates structured content against the listed output schema
                result = await client.call_tool(op.name, args)
                assert not result.is_error, (op.name, result.content)
                body = result.structured_content
                assert body is not None
                schema = tool_for(op, platform().registry).output_schema
                Draft202012Validator(schema).validate(body)
                Draft7Validator(schema).validate(body)  # what the TypeScript SDK's ajv speaks
                if op.paginated and round_ == 2:
                    assert body["data"], f"{op.name}: nothing listed to validate"
                if round_ == 1 or op.name == "revoke_token":
                    emitted[op.name] = await _events(runtime, tenant.workspace_id) > before
    for op in TOOLS:
        if emitted.get(op.name):
            assert op.open_world, f"{op.name} emits events that webhooks deliver: open_world"
    assert {name for name, did in emitted.items() if did} >= {"create_contact", "create_task"}


@pytest.mark.parametrize("op", TOOLS, ids=lambda op: op.name)
def test_output_schema_is_a_valid_schema(op: Any) -> None:
    schema = tool_for(op, platform().registry).output_schema
    Draft202012Validator.check_schema(schema)
    Draft7Validator.check_schema(schema)
