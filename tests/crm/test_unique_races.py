"""Concurrent creates of one unique key: one wins, the others get the key's 409, never a 500
(on PostgreSQL both pass the duplicate check and the unique constraint decides)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from core.gateway import call_operation
from core.operations import Channel
from core.runtime import Runtime
from tests.factories import Tenant

CASES = [
    ("create_deal_stage", {"key": "demo", "name": "Demo"}, "deal_stage_exists"),
    (
        "create_accounting_account",
        {"code": "4000", "name": "Sales", "type": "revenue"},
        "accounting_account_exists",
    ),
    (
        "create_invoice",
        {
            "invoice_number": "INV-1",
            "currency": "EUR",
            "line_items": [{"name": "Work", "quantity": 1, "unit_amount_cents": 100}],
        },
        "invoice_number_taken",
    ),
    ("register_integration_event_type", {"key": "campaign.kickoff"}, "event_type_exists"),
]


@pytest.mark.parametrize(("operation", "arguments", "code"), CASES, ids=[c[0] for c in CASES])
async def test_concurrent_duplicates_are_409(
    runtime: Runtime, tenant: Tenant, operation: str, arguments: dict[str, Any], code: str
) -> None:
    op = runtime.registry.get(operation)
    assert op is not None
    statuses: list[tuple[int, str | None]] = []

    async def create() -> None:
        outcome = await call_operation(
            runtime, op, credentials=tenant.token, channel=Channel.rest, arguments=arguments
        )
        statuses.append((outcome.status, outcome.error.code if outcome.error else None))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(create)
    assert sorted(statuses, key=str) == sorted(
        [(op.success_status, None)] + [(409, code)] * 7, key=str
    )
