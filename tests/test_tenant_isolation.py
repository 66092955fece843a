"""Workspace B can never see or touch workspace A's records.

Generated over the registry: every operation with a path id, called with B's token and
A's id, answers 404 and writes nothing to A; every list answers B's rows only. Records
are created as the domains' manifests say (``Domain.records`` and ``Domain.samples``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from core.runtime import Runtime
from tests.domains import suite_platform as platform
from tests.factories import Tenant, owner_session
from tests.op_samples import call, create_record, record_type, record_types, sample_args

REGISTRY = platform().registry
WITH_PATH_IDS = [op for op in REGISTRY if op.path_params]
LISTS = [op for op in REGISTRY if op.paginated and not op.path_params]  # others: above


async def row_counts(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    """Rows per workspace-owned table for one workspace."""
    counts: dict[str, int] = {}
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            if "workspace_id" not in table.c:
                continue
            stmt = sa.select(sa.func.count()).select_from(table)
            stmt = stmt.where(table.c.workspace_id == workspace_id)
            counts[table.name] = (await session.execute(stmt)).scalar_one()
    return counts


async def populate(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    """One record of every known type in the tenant's workspace; returns type → id."""
    return {type_: await create_record(client, tenant.headers, type_) for type_ in record_types()}


@pytest.mark.parametrize("op_name", [op.name for op in WITH_PATH_IDS])
async def test_foreign_path_id_is_404_and_writes_nothing(
    op_name: str,
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    unknown = [p for p in op.path_params if record_type(p) not in record_types()]
    assert not unknown, f"no record type creates {unknown}: declare it in Domain.records"
    a_ids: dict[str, str] = {}
    for param in op.path_params:
        a_ids[param] = await create_record(client, tenant.headers, record_type(param))
    before = await row_counts(runtime, tenant.workspace_id)
    response = await call(client, op, other_tenant.headers, a_ids)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"].endswith("_not_found")
    assert await row_counts(runtime, tenant.workspace_id) == before
    # The owner can reach the same record (the 404 was about the workspace, not the id).
    response = await call(client, op, tenant.headers, a_ids)
    assert response.status_code != 404, response.text


@pytest.mark.parametrize("op_name", [op.name for op in LISTS])
async def test_lists_never_return_foreign_rows(
    op_name: str,
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    a_ids = await populate(client, runtime, tenant)
    own = await create_record(client, other_tenant.headers, "contact")
    variants: list[dict[str, Any]] = [sample_args(op)]
    if "query" in op.input_model.model_fields:
        variants += [{"query": "jane"}, {"query": "acme"}, {"query": "pricing"}]
    for args in variants:
        response = await call(client, op, other_tenant.headers, args=args)
        assert response.status_code == 200, response.text
        text = response.text
        leaked = [i for i in a_ids.values() if i in text]
        assert not leaked, f"{op.name} {args} leaked {leaked}"
    if op.name == "search_contacts":
        response = await call(client, op, other_tenant.headers, args={"query": "jane"})
        assert [c["id"] for c in response.json()["data"]] == [own]


def _body_cases(a: dict[str, str]) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("create_contact", {"name": "X", "company_id": a["company"]}, "company_not_found"),
        ("create_deal", {"name": "X", "contact_id": a["contact"]}, "contact_not_found"),
        ("create_deal", {"name": "X", "company_id": a["company"]}, "company_not_found"),
        (
            "create_invoice",
            {
                "invoice_number": "B-1",
                "deal_id": a["deal"],
                "line_items": [{"name": "x", "unit_amount_cents": 1}],
            },
            "deal_not_found",
        ),
        ("record_payment", {"invoice_id": a["invoice"], "amount_cents": 1}, "invoice_not_found"),
        (
            "create_task",
            {"title": "x", "related_type": "contact", "related_id": a["contact"]},
            "contact_not_found",
        ),
        (
            "log_activity",
            {"type": "note", "summary": "x", "related_type": "deal", "related_id": a["deal"]},
            "deal_not_found",
        ),
        (
            "create_journal_entry",
            {"lines": [{"account_id": a["accounting_account"], "debit_cents": 5}]},
            "accounting_account_not_found",
        ),
    ]


async def test_foreign_ids_in_bodies_are_404(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    a_ids = await populate(client, runtime, tenant)
    before_a = await row_counts(runtime, tenant.workspace_id)
    before_b = await row_counts(runtime, other_tenant.workspace_id)
    for op_name, args, code in _body_cases(a_ids):
        op = runtime.registry.get(op_name)
        assert op is not None
        response = await call(client, op, other_tenant.headers, args=args)
        assert response.status_code == 404, (op_name, response.text)
        assert response.json()["error"]["code"] == code
    # B's own lead converted with A's contact: 404, B's lead untouched.
    lead = await create_record(client, other_tenant.headers, "lead")
    convert = runtime.registry.get("convert_lead")
    response = await call(
        client, convert, other_tenant.headers, {"lead_id": lead}, {"contact_id": a_ids["contact"]}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "contact_not_found"
    # B's own records updated (or converted) to point at A's: 404 each, nothing changed.
    b = {kind: await create_record(client, other_tenant.headers, kind)
         for kind in ("contact", "deal", "task")}  # fmt: skip
    updates = [
        ("update_contact", {"contact_id": b["contact"]}, {"company_id": a_ids["company"]},
         "company_not_found"),
        ("update_deal", {"deal_id": b["deal"]}, {"contact_id": a_ids["contact"]},
         "contact_not_found"),
        ("update_task", {"task_id": b["task"]},
         {"related_type": "lead", "related_id": a_ids["lead"]}, "lead_not_found"),
        ("convert_lead", {"lead_id": lead}, {"company_id": a_ids["company"]},
         "company_not_found"),
    ]  # fmt: skip

    async def b_records() -> list[Any]:
        paths = [f"/contacts/{b['contact']}", f"/deals/{b['deal']}", f"/tasks/{b['task']}",
                 f"/leads/{lead}"]  # fmt: skip
        return [
            (await client.get("/api/v1" + p, headers=other_tenant.headers)).json()["data"]
            for p in paths
        ]

    async def b_counts() -> dict[str, int]:  # refusals are audited: that row may grow
        counts = await row_counts(runtime, other_tenant.workspace_id)
        return {table: n for table, n in counts.items() if table != "audit_log"}

    before_b, records_b = await b_counts(), await b_records()
    for op_name, path, body, code in updates:
        op = runtime.registry.get(op_name)
        assert op is not None
        response = await call(client, op, other_tenant.headers, path, body)
        assert response.status_code == 404, (op_name, response.text)
        assert response.json()["error"]["code"] == code, op_name
    assert await b_counts() == before_b
    assert await b_records() == records_b
    assert await row_counts(runtime, tenant.workspace_id) == before_a
