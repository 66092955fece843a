"""The reference documents' request examples, replayed as written.

Each document's examples are kept here as data: method, path, query string and body
exactly as the document writes them, with its placeholder ids (``con_123``, ``12``…)
substituted by records created first. A replay must answer 2xx with the response
fields the document shows. ``seeded`` makes those records through the API itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import httpx
import pytest

from tests.factories import Tenant

API = "/api/v1"
PUBLIC_ADDRESS = ip_address("93.184.215.14")
"""What the documents' example hosts (example.com) resolve to in these tests: a public
address, so the URL policy accepts them without the network."""


@dataclass(frozen=True)
class Example:
    """One documented request and what its documented response shows."""

    doc: str
    name: str  # the document's operation name, or its endpoint
    method: str
    path: str
    body: str | None = None  # JSON text exactly as documented
    query: str = ""  # the query string exactly as documented
    fields: tuple[str, ...] = ()  # fields of data (or of each item) the document shows
    status: int = 200
    nested: dict[str, tuple[str, ...]] = field(default_factory=dict)


def substitute(text: str, ids: dict[str, str]) -> str:
    """``text`` with each documented placeholder id replaced by a real one."""
    for placeholder in sorted(ids, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(placeholder)}(?![\w-])", ids[placeholder], text)
    return text


async def replay(
    client: httpx.AsyncClient, tenant: Tenant, example: Example, ids: dict[str, str]
) -> httpx.Response:
    """Send ``example`` as written (ids substituted) and check the documented answer."""
    url = API + substitute(example.path, ids)
    if example.query:
        url += "?" + substitute(example.query, ids)
    headers = {**tenant.headers, "Accept": "application/json"}
    content = None
    if example.body is not None:
        content = substitute(example.body, ids).encode()
        headers["Content-Type"] = "application/json"
    r = await client.request(example.method, url, content=content, headers=headers)
    assert r.status_code == example.status, f"{example.name}: {r.status_code} {r.text}"
    data = r.json()["data"]
    items = data if isinstance(data, list) else [data]
    assert items, f"{example.name}: the list is empty, nothing to check the fields on"
    for item in items:
        missing = [f for f in example.fields if f not in item]
        assert not missing, f"{example.name}: {missing} missing from {item}"
        for key, subfields in example.nested.items():
            missing = [f for f in subfields if f not in item[key]]
            assert not missing, f"{example.name}: {key}.{missing} missing from {item}"
    if isinstance(data, list):
        assert "next_cursor" in r.json() and "pagination" in r.json()
    return r


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: Any) -> dict[str, Any]:
    r = await client.post(API + path, json=body, headers=tenant.headers)
    assert r.status_code in (200, 201, 202), r.text
    return r.json()["data"]  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def public_example_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents' webhook URLs (https://example.com/…) resolve to a public address."""

    async def resolve(host: str, port: int) -> list[Any]:
        return [PUBLIC_ADDRESS]

    monkeypatch.setattr("core.net.policy.system_resolver", resolve)


@pytest.fixture
async def seeded(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """Records for the documents' placeholder ids, made through the API."""
    company = await post(client, tenant, "/companies", {"name": "Acme Corp", "domain": "acme.com"})
    contact = await post(
        client, tenant, "/contacts", {"name": "Jane Doe", "email": "jane@acme.com"}
    )
    lead = await post(client, tenant, "/leads", {"name": "Priya Shah"})
    deal = await post(
        client, tenant, "/deals", {"name": "Pilot", "company_id": company["id"], "stage": "lead"}
    )
    invoice = await post(
        client,
        tenant,
        "/invoices",
        {"invoice_number": "INV-0001", "line_items": [
            {"kind": "service", "name": "Setup", "unit_amount_cents": 500000}
        ]},
    )  # fmt: skip
    cash = await post(
        client, tenant, "/accounting/accounts", {"code": "1000", "name": "Cash", "type": "asset"}
    )
    receivable = await post(
        client, tenant, "/accounting/accounts",
        {"code": "1100", "name": "Receivables", "type": "asset"},
    )  # fmt: skip
    task = await post(client, tenant, "/tasks", {"title": "Follow up with Jane Doe"})
    await post(client, tenant, "/activities", {"type": "note", "summary": "Met Jane"})
    await post(
        client, tenant, "/accounting/journal-entries",
        {"status": "posted", "lines": [
            {"account_id": cash["id"], "debit_cents": 100},
            {"account_id": receivable["id"], "credit_cents": 100},
        ]},
    )  # fmt: skip
    webhook = await post(
        client, tenant, "/webhooks",
        {"name": "Ops", "url": "https://example.com/hook", "event_types": ["contact.created"]},
    )  # fmt: skip
    await post(client, tenant, f"/webhooks/{webhook['id']}/test", {})
    return {
        "com_123": company["id"],
        "con_123": contact["id"],
        "lead_123": lead["id"],
        "deal_123": deal["id"],
        "inv_123": invoice["id"],
        "acct_cash": cash["id"],
        "acct_ar": receivable["id"],
        "task_123": task["id"],
        "wh_123": webhook["id"],
    }


def body(value: Any) -> str:
    """A documented body given as a Python literal, as JSON text."""
    return json.dumps(value, indent=2)
