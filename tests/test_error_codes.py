"""Every error code the platform can answer is asserted by some test.

The domain suites cover most codes; this file covers the rarer ones, and
``test_every_error_code_is_tested`` fails when a new code appears in the source without
any test mentioning it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import sqlalchemy as sa

from core.crm.models import Invoice
from core.runtime import Runtime
from core.webhooks import service as webhooks
from core.webhooks.service import MAX_CUSTOM_EVENT_TYPES
from core.workflows.service import MAX_INPUT_BYTES
from tests.factories import Tenant, owner_session

ROOT = Path(__file__).resolve().parents[1]
RECIPE = {"steps": [{"type": "log", "message": "hello"}]}

# Class-level defaults that are always replaced by a specific code when raised.
ABSTRACT_CODES = {
    "bad_request",
    "conflict",
    "forbidden",
    "not_found",
    "unprocessable",
    "token_missing_ability",
    "http_error",
}


def _code_of(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def test_duplicate_accounting_account_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"code": "4000", "name": "Revenue", "type": "revenue"}
    first = await client.post("/api/v1/accounting/accounts", json=body, headers=tenant.headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/accounting/accounts", json=body, headers=tenant.headers)
    assert again.status_code == 409 and _code_of(again) == "accounting_account_exists"


async def test_payment_on_void_invoice(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/invoices",
        json={
            "invoice_number": "INV-9",
            "line_items": [{"kind": "service", "name": "Setup", "unit_amount_cents": 5000}],
        },
        headers=tenant.headers,
    )
    invoice_id = created.json()["data"]["id"]
    async with owner_session(runtime) as session:  # no API voids invoices yet: test setup
        await session.execute(
            sa.update(Invoice).where(Invoice.id == invoice_id).values(status="void")
        )
    paid = await client.post(
        "/api/v1/payments",
        json={"invoice_id": invoice_id, "amount_cents": 100},
        headers=tenant.headers,
    )
    assert paid.status_code == 409 and _code_of(paid) == "invoice_void"


async def test_workflow_name_of_blanks(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/api/v1/workflows", json={"name": "   ", "recipe": RECIPE}, headers=tenant.headers
    )
    assert r.status_code == 422 and _code_of(r) == "name_required"


async def test_run_input_too_large(client: httpx.AsyncClient, tenant: Tenant) -> None:
    wf = await client.post(
        "/api/v1/workflows", json={"name": "Big", "recipe": RECIPE}, headers=tenant.headers
    )
    workflow_id = wf.json()["data"]["id"]
    big = {"blob": "x" * (MAX_INPUT_BYTES + 1)}
    r = await client.post(
        f"/api/v1/workflows/{workflow_id}/runs", json={"input": big}, headers=tenant.headers
    )
    assert r.status_code == 422 and _code_of(r) == "input_too_large"
    runs = await client.get(f"/api/v1/workflows/{workflow_id}/runs", headers=tenant.headers)
    assert runs.json()["data"] == []


async def test_blank_event_types(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/api/v1/webhooks",
        json={"name": "n", "url": "http://127.0.0.1:9/h", "event_types": ["  "]},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and _code_of(r) == "event_types_empty"


async def test_custom_event_type_limit(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    async with runtime.db.session(tenant.workspace_id) as session:
        for i in range(MAX_CUSTOM_EVENT_TYPES):
            await webhooks.register_event_type(
                session, tenant.workspace_id, key=f"bulk.type{i}", category=None, description=None
            )
    r = await client.post(
        "/api/v1/integrations/events", json={"key": "one.too.many"}, headers=tenant.headers
    )
    assert r.status_code == 409 and _code_of(r) == "event_type_limit_reached"


def test_every_error_code_is_tested() -> None:
    pattern = re.compile(r'code\s*=\s*"([a-z_]+)"')
    codes: set[str] = set()
    for folder in ("core", "rest", "mcp_server", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            codes |= set(pattern.findall(path.read_text()))
    tests_text = (
        "\n".join(
            p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name
        )
        + Path(__file__).read_text().split("def test_every_error_code_is_tested")[0]
    )
    untested = sorted(c for c in codes - ABSTRACT_CODES if c not in tests_text)
    assert not untested, f"error codes no test asserts: {untested}"
