"""Every tool's successful result validates against the output schema it declares, and
its ``openWorldHint`` is honest.

Generated over the registry: each tool is called once through the official client (which
itself re-validates structured content against the listed output schema) with the
samples of ``tests/op_samples.py``, twice over so that every list has rows the second
time. A tool whose call emitted a domain event (which webhook endpoints receive) must
declare ``open_world``.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from jsonschema import Draft7Validator, Draft202012Validator
from mcp import Client

from core.events.models import DomainEvent
from core.ids import new_id
from core.registry import default_registry
from core.runtime import Runtime
from mcp_server.adapter import tool_for
from tests.factories import Tenant
from tests.mcp_server.helpers import memory_client
from tests.mcp_server.test_tenant_isolation_mcp import create
from tests.op_samples import PATH_PARAM_TYPES, sample_args

TOOLS = [op for op in default_registry() if op.mcp_tool]
LAST = ("erase_contact", "revoke_token")
"""Run at the end of each round: they take away what the others use."""


async def _succeeding_args(client: Client, name: str) -> dict[str, Any]:
    """Arguments for the few samples that need real records to succeed."""
    if name == "record_payment":
        invoice = await client.call_tool(
            "create_invoice",
            {
                "invoice_number": "INV-" + new_id("x")[-8:],
                "line_items": [{"kind": "service", "name": "Setup", "unit_amount_cents": 500}],
            },
        )
        invoice_id = invoice.structured_content["data"]["id"]  # type: ignore[index]
        return {"invoice_id": invoice_id, "amount_cents": 100}
    if name == "create_journal_entry":
        ids = []
        for code, kind in (("1000", "asset"), ("4000", "revenue")):
            account = await client.call_tool(
                "create_accounting_account",
                {"code": code + new_id("x")[-6:], "name": code, "type": kind},
            )
            ids.append(account.structured_content["data"]["id"])  # type: ignore[index]
        lines = [
            {"account_id": ids[0], "debit_cents": 700},
            {"account_id": ids[1], "credit_cents": 700},
        ]
        return {"memo": "Sale", "lines": lines}
    return {}


async def _events(runtime: Runtime, workspace_id: str) -> int:
    async with runtime.db.session(read_only=True) as session:
        stmt = sa.select(sa.func.count()).where(DomainEvent.workspace_id == workspace_id)
        return (await session.execute(stmt)).scalar_one()


async def test_results_validate_and_open_world_is_honest(
    runtime: Runtime, tenant: Tenant
) -> None:
    ordered = [op for op in TOOLS if op.name not in LAST]
    ordered += [runtime.registry.get(name) for name in LAST]  # type: ignore[misc]
    emitted: dict[str, bool] = {}
    async with memory_client(runtime, tenant.token) as client:
        for round_ in (1, 2):
            for op in ordered:
                if op.name == "revoke_token" and round_ == 1:
                    continue  # the token must stay valid for round 2
                path_ids = {}
                for param in op.path_params:
                    if param == "token_id":
                        path_ids[param] = (await client.call_tool(
                            "create_token", {"name": "spare", "scopes": ["crm:read"]}
                        )).structured_content["data"]["id"]  # type: ignore[index]  # fmt: skip
                    else:
                        path_ids[param] = await create(client, PATH_PARAM_TYPES[param])
                if op.name == "list_webhook_deliveries":  # a delivery to list
                    await client.call_tool("send_test_webhook_event", path_ids)
                args = {**sample_args(op), **await _succeeding_args(client, op.name), **path_ids}
                before = await _events(runtime, tenant.workspace_id)
                # the client validates structured content against the listed output schema
                result = await client.call_tool(op.name, args)
                assert not result.is_error, (op.name, result.content)
                body = result.structured_content
                assert body is not None
                schema = tool_for(op).output_schema
                Draft202012Validator(schema).validate(body)
                Draft7Validator(schema).validate(body)  # what the TypeScript SDK's ajv speaks
                if op.paginated and round_ == 2:
                    assert body["data"], f"{op.name}: nothing listed to validate"
                if round_ == 1 or op.name == "revoke_token":
                    emitted[op.name] = await _events(runtime, tenant.workspace_id) > before
    for op in TOOLS:
        if emitted[op.name]:
            assert op.open_world, f"{op.name} emits events that webhooks deliver: open_world"
    assert {name for name, did in emitted.items() if did} >= {"create_contact", "create_task"}


@pytest.mark.parametrize("op", TOOLS, ids=lambda op: op.name)
def test_output_schema_is_a_valid_schema(op: Any) -> None:
    schema = tool_for(op).output_schema
    Draft202012Validator.check_schema(schema)
    Draft7Validator.check_schema(schema)
