"""003 "Support": the nine operations' request examples replayed as written (ids
substituted), their documented response fields present, and their operationIds the
document's."""

from __future__ import annotations

import httpx
import pytest

from patchbay.domains import platform
from tests.factories import Tenant
from tests.reference.conftest import Example, post, replay

DOC = "003"
EXAMPLES = [
    Example(DOC, "listSupportQueues", "GET", "/support/queues", fields=("id", "name")),
    Example(DOC, "createSupportQueue", "POST", "/support/queues", status=201, body="""{
"key": "priority",
"name": "Priority Support",
"first_response_target_minutes": 120
}""", fields=("id", "key")),
    Example(DOC, "listSupportTickets", "GET", "/support/tickets", fields=("id", "priority")),
    Example(DOC, "createSupportTicket", "POST", "/support/tickets", status=201, body="""{
"subject": "Customer cannot download invoice",
"priority": "urgent",
"category": "billing"
}""", fields=("id", "subject", "status")),
    Example(DOC, "updateSupportTicket", "PATCH", "/support/tickets/ticket_123", body="""{
"status": "open",
"queue_id": "queue_123"
}""", fields=("id", "status")),
    Example(DOC, "listSupportTicketMessages", "GET", "/support/tickets/ticket_123/messages",
            query="ticket_id=ticket_123", fields=("id", "body")),
    Example(DOC, "addSupportTicketMessage", "POST", "/support/tickets/ticket_123/messages",
            status=201, body="""{
"direction": "inbound",
"channel": "email",
"body": "I still cannot access the invoice."
}""", fields=("id", "ticket_id")),
    Example(DOC, "listSupportTicketComments", "GET", "/support/tickets/ticket_123/comments",
            query="ticket_id=ticket_123", fields=("id", "body")),
    Example(DOC, "addSupportTicketComment", "POST", "/support/tickets/ticket_123/comments",
            status=201, body="""{
"body": "Finance is checking the invoice export.",
"pinned": true
}""", fields=("id", "pinned")),
]  # fmt: skip


@pytest.fixture
async def support_seeded(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """A queue, a ticket with one message and one comment, for the placeholder ids."""
    queue = await post(client, tenant, "/support/queues", {"key": "general", "name": "General"})
    ticket = await post(
        client, tenant, "/support/tickets",
        {"subject": "Invoice export", "priority": "urgent", "queue_id": queue["id"]},
    )  # fmt: skip
    path = f"/support/tickets/{ticket['id']}"
    await post(client, tenant, path + "/messages", {"direction": "inbound", "body": "Hello"})
    await post(client, tenant, path + "/comments", {"body": "Checking"})
    return {"queue_123": queue["id"], "ticket_123": ticket["id"]}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
async def test_documented_example_works_unchanged(
    client: httpx.AsyncClient, tenant: Tenant, support_seeded: dict[str, str], example: Example
) -> None:
    await replay(client, tenant, example, support_seeded)


async def test_query_ticket_id_must_match_the_path(
    client: httpx.AsyncClient, tenant: Tenant, support_seeded: dict[str, str]
) -> None:
    """003 lists ticket_id in the path and in the query: a different one is refused."""
    other = await post(client, tenant, "/support/tickets", {"subject": "Other"})
    url = f"/api/v1/support/tickets/{support_seeded['ticket_123']}/messages"
    r = await client.get(url, params={"ticket_id": other["id"]}, headers=tenant.headers)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_operation_id_is_the_documents(example: Example) -> None:
    """A client generated from 003 keeps its method names."""
    path = "/" + "/".join(
        "{ticket_id}" if p == "ticket_123" else p for p in example.path.strip("/").split("/")
    )
    ops = [op for op in platform().registry if op.method == example.method and op.path == path]
    assert [op.operation_id for op in ops] == [example.name]
