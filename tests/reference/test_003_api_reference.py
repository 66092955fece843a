"""003 (the full API reference): every documented operation Patchbay implements, its
request example replayed as written, its documented response fields present, and the
OpenAPI operationId equal to the document's."""

from __future__ import annotations

import httpx
import pytest

from core.runtime import Runtime
from patchbay.domains import platform
from tests.factories import Tenant
from tests.reference.conftest import Example, replay

DOC = "003"
EXAMPLES = [
    Example(DOC, "getWorkspace", "GET", "/workspace", fields=("id", "name", "enabled_modules")),
    Example(DOC, "listContacts", "GET", "/contacts", fields=("id", "name", "email")),
    Example(DOC, "createContact", "POST", "/contacts", status=201, body="""{
"name": "Jane Doe",
"email": "jane@acme.com",
"company_name": "Acme Corp"
}""", fields=("id", "name", "email", "company_name")),
    Example(DOC, "listCompanies", "GET", "/companies", fields=("id", "name", "domain")),
    Example(DOC, "createCompany", "POST", "/companies", status=201, body="""{
"name": "Acme Corp",
"domain": "acme.com"
}""", fields=("id", "name", "domain")),
    Example(DOC, "listLeads", "GET", "/leads", fields=("id", "name")),
    Example(DOC, "createLead", "POST", "/leads", status=201, body="""{
"name": "Priya Shah",
"company_name": "Northstar Studio",
"source": "website"
}""", fields=("id", "name", "status")),
    Example(DOC, "convertLead", "POST", "/leads/lead_123/convert", body="""{
"create_deal": true,
"deal_name": "Website redesign"
}""", fields=("id", "status")),
    Example(DOC, "listDealStages", "GET", "/deal-stages", fields=("id", "key")),
    Example(DOC, "createDealStage", "POST", "/deal-stages", status=201, body="""{
"key": "discovery",
"name": "Discovery",
"position": 10
}""", fields=("id", "key")),
    Example(DOC, "createDeal", "POST", "/deals", status=201, body="""{
"name": "Pilot subscription",
"company_id": "com_123",
"stage": "qualified",
"amount_cents": 500000,
"currency": "USD"
}""", fields=("id", "name", "stage")),
    Example(DOC, "updateDeal", "PATCH", "/deals/deal_123", body="""{
"stage": "proposal",
"amount_cents": 750000,
"currency": "USD"
}""", fields=("id", "stage", "amount_cents", "currency")),
    Example(DOC, "listInvoices", "GET", "/invoices", fields=("id", "status")),
    Example(DOC, "createInvoice", "POST", "/invoices", status=201, body="""{
"invoice_number": "INV-1001",
"line_items": [
{
"kind": "service",
"name": "Website redesign",
"unit_amount_cents": 500000
}
]
}""", fields=("id", "invoice_number")),
    Example(DOC, "recordPayment", "POST", "/payments", status=201, body="""{
"invoice_id": "inv_123",
"amount_cents": 250000
}""", fields=("id", "amount_cents")),
    Example(DOC, "listAccountingAccounts", "GET", "/accounting/accounts", fields=("id", "name")),
    Example(DOC, "createAccountingAccount", "POST", "/accounting/accounts", status=201, body="""{
"code": "4000",
"name": "Services revenue",
"type": "revenue"
}""", fields=("id", "code")),
    Example(DOC, "listJournalEntries", "GET", "/accounting/journal-entries",
            fields=("id", "status")),
    Example(DOC, "createJournalEntry", "POST", "/accounting/journal-entries", status=201, body="""{
"status": "posted",
"lines": [
{
"account_id": "acct_cash",
"debit_cents": 10000
},
{
"account_id": "acct_ar",
"credit_cents": 10000
}
]
}""", fields=("id", "status")),
    Example(DOC, "listTasks", "GET", "/tasks", fields=("id", "title", "status")),
    Example(DOC, "createTask", "POST", "/tasks", status=201, body="""{
"title": "Follow up with Jane Doe",
"related_resource_type": "contact",
"related_resource_id": "con_123"
}""", fields=("id", "title", "status")),
    Example(DOC, "updateTask", "PATCH", "/tasks/task_123", body="""{
"status": "completed",
"completed_note": "Jane confirmed the next call."
}""", fields=("id", "status", "completed_note")),
    Example(DOC, "listActivities", "GET", "/activities", fields=("id", "summary")),
    Example(DOC, "createActivity", "POST", "/activities", status=201, body="""{
"type": "email",
"summary": "Jane asked for pricing details",
"related_resource_type": "contact",
"related_resource_id": "con_123"
}""", fields=("id", "type", "summary")),
    Example(DOC, "listIntegrationEventTypes", "GET", "/integrations/events",
            fields=("key", "category")),
    Example(DOC, "registerIntegrationEventType", "POST", "/integrations/events", status=201,
            body="""{
"key": "external.publish.completed",
"category": "publishing",
"description": "External publishing workflow completed."
}""", fields=("id", "key")),
    Example(DOC, "listWebhookEndpoints", "GET", "/webhooks", fields=("id", "name")),
    Example(DOC, "createWebhookEndpoint", "POST", "/webhooks", status=201, body="""{
"name": "CRM Ops Webhook",
"url": "https://example.com/slab5/webhooks",
"event_types": [
"contact.created"
]
}""", fields=("id", "status", "signing_secret_preview")),
    Example(DOC, "updateWebhookEndpoint", "PATCH", "/webhooks/wh_123", body="""{
"status": "paused"
}""", fields=("id", "status")),
    Example(DOC, "sendTestWebhookEvent", "POST", "/webhooks/wh_123/test", status=202,
            fields=("id", "event_type", "status")),
    Example(DOC, "listWebhookDeliveries", "GET", "/webhooks/wh_123/deliveries",
            fields=("id", "status", "attempt_count")),
]  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
async def test_documented_example_works_unchanged(
    client: httpx.AsyncClient, tenant: Tenant, seeded: dict[str, str], example: Example
) -> None:
    await replay(client, tenant, example, seeded)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_operation_id_is_the_documents(example: Example) -> None:
    """A client generated from 003 keeps its method names."""
    path = "/" + "/".join(
        "{" + p + "}" if p in {"lead_123", "deal_123", "task_123", "wh_123"} else p
        for p in example.path.strip("/").split("/")
    )
    ops = [
        op
        for op in platform().registry
        if op.method == example.method and _shape(op.path) == _shape(path)
    ]
    assert [op.operation_id for op in ops] == [example.name]


def _shape(path: str) -> str:
    return "/".join("{}" if p.startswith("{") else p for p in path.split("/"))


async def test_list_pages_with_cursor_and_limit(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """003's pagination: limit and cursor (the previous page's next_cursor)."""
    for n in range(3):
        r = await client.post("/api/v1/contacts", json={"name": f"C{n}"}, headers=tenant.headers)
        assert r.status_code == 201
    first = (await client.get("/api/v1/contacts?limit=2", headers=tenant.headers)).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    assert first["pagination"] == {"has_more": True, "next_cursor": first["next_cursor"]}
    url = f"/api/v1/contacts?limit=2&cursor={first['next_cursor']}"
    second = (await client.get(url, headers=tenant.headers)).json()
    assert len(second["data"]) == 1 and second["next_cursor"] is None
    assert second["pagination"] == {"has_more": False, "next_cursor": None}
