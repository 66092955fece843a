"""Sample arguments per operation and "how to create a record of type X", shared by the
registry-wide suites (scope matrix, tenant isolation) and domain tests.

Operations without a sample get an empty body: a 400 still proves the scope check passed.
Domains add their record types to ``CREATORS`` and ``PATH_PARAM_TYPES`` so the tenant
isolation suite covers their path ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from core.ids import new_id
from core.operations import Operation

API = "/api/v1"


def placeholder(prefix: str) -> str:
    """A well-formed id that exists nowhere."""
    return new_id(prefix)


SAMPLE_ARGS: dict[str, Callable[[], dict[str, Any]]] = {
    "create_contact": lambda: {"name": "Jane Doe", "email": "jane@acme.test", "notes": "VIP"},
    "create_company": lambda: {"name": "Acme Corp", "domain": "acme.test"},
    "create_lead": lambda: {"name": "Priya Shah", "company_name": "Northstar Studio"},
    "create_deal_stage": lambda: {
        "key": "discovery_" + new_id("x")[-6:].lower(),
        "name": "Discovery",
        "position": 10,
    },
    "create_deal": lambda: {"name": "Pilot", "amount_cents": 50_000, "currency": "USD"},
    "create_invoice": lambda: {
        "invoice_number": "INV-" + new_id("x")[-8:],
        "line_items": [{"kind": "service", "name": "Setup", "unit_amount_cents": 10_000}],
    },
    "record_payment": lambda: {"invoice_id": placeholder("inv"), "amount_cents": 100},
    "create_accounting_account": lambda: {
        "code": new_id("x")[-6:],
        "name": "Services revenue",
        "type": "revenue",
    },
    "create_journal_entry": lambda: {
        "lines": [{"account_id": placeholder("acct"), "debit_cents": 100}]
    },
    "create_task": lambda: {"title": "Follow up with Jane"},
    "log_activity": lambda: {"type": "note", "summary": "Jane asked for pricing"},
    "update_contact": lambda: {"notes": "changed"},
    "update_company": lambda: {"notes": "changed"},
    "update_lead": lambda: {"notes": "changed"},
    "update_deal": lambda: {"amount_cents": 1},
    "update_task": lambda: {"status": "done", "completion_note": "ok"},
    "convert_lead": lambda: {},
    "create_webhook_endpoint": lambda: {
        "name": "Ops hook",
        "url": "https://127.0.0.1:9/hook",
        "event_types": ["contact.created"],
    },
    "update_webhook_endpoint": lambda: {"name": "changed", "status": "paused"},
    "register_integration_event_type": lambda: {"key": "campaign.k" + new_id("x")[-8:]},
    "create_workflow": lambda: {
        "name": "Welcome",
        "recipe": {"steps": [{"type": "log", "message": "Hello {{input.name}}"}]},
    },
    "update_workflow": lambda: {"description": "changed"},
    "trigger_workflow": lambda: {"input": {"name": "Jane"}},
    "create_token": lambda: {"name": "Sample token", "scopes": ["crm:read"]},
}


async def create_run(client: httpx.AsyncClient, registry: Any, headers: dict[str, str]) -> str:
    """A workflow run: creates a workflow, then triggers it."""
    workflow_id = await create_record(client, registry, headers, "workflow")
    op = registry.get("trigger_workflow")
    response = await call(
        client, op, headers, {"workflow_id": workflow_id}, SAMPLE_ARGS["trigger_workflow"]()
    )
    assert response.status_code == 202, response.text
    return response.json()["data"]["id"]


Creator = (
    tuple[str, Callable[[], dict[str, Any]]]
    | Callable[[httpx.AsyncClient, Any, dict[str, str]], Awaitable[str]]
)

CREATORS: dict[str, Creator] = {
    "contact": ("create_contact", SAMPLE_ARGS["create_contact"]),
    "company": ("create_company", SAMPLE_ARGS["create_company"]),
    "lead": ("create_lead", SAMPLE_ARGS["create_lead"]),
    "deal": ("create_deal", SAMPLE_ARGS["create_deal"]),
    "invoice": ("create_invoice", SAMPLE_ARGS["create_invoice"]),
    "task": ("create_task", SAMPLE_ARGS["create_task"]),
    "activity": ("log_activity", SAMPLE_ARGS["log_activity"]),
    "deal_stage": ("create_deal_stage", SAMPLE_ARGS["create_deal_stage"]),
    "accounting_account": ("create_accounting_account", SAMPLE_ARGS["create_accounting_account"]),
    "webhook": ("create_webhook_endpoint", SAMPLE_ARGS["create_webhook_endpoint"]),
    "workflow": ("create_workflow", SAMPLE_ARGS["create_workflow"]),
    "run": create_run,
    "token": ("create_token", SAMPLE_ARGS["create_token"]),
}
"""Record type → (operation that creates it, its arguments), or an async callable
``(client, registry, headers) -> id`` for records that need others first."""

PATH_PARAM_TYPES: dict[str, str] = {
    "contact_id": "contact",
    "company_id": "company",
    "lead_id": "lead",
    "deal_id": "deal",
    "invoice_id": "invoice",
    "task_id": "task",
    "webhook_id": "webhook",
    "workflow_id": "workflow",
    "run_id": "run",
    "token_id": "token",
}
"""Path placeholder → record type in ``CREATORS``."""


def sample_args(op: Operation) -> dict[str, Any]:
    """Minimal valid arguments for ``op`` (without path params), or {}."""
    make = SAMPLE_ARGS.get(op.name)
    return make() if make else {}


def build_request(
    op: Operation, path_ids: dict[str, str] | None = None, args: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """(method, url, httpx kwargs) for calling ``op`` over REST."""
    path_ids = path_ids or {}
    url = API + op.path
    for name in op.path_params:
        url = url.replace("{" + name + "}", path_ids.get(name) or placeholder("x"))
    args = sample_args(op) if args is None else args
    if op.method in ("GET", "DELETE"):
        return op.method, url, {"params": {k: str(v) for k, v in args.items()}}
    return op.method, url, {"json": args}


async def call(
    client: httpx.AsyncClient,
    op: Operation,
    headers: dict[str, str],
    path_ids: dict[str, str] | None = None,
    args: dict[str, Any] | None = None,
) -> httpx.Response:
    method, url, kwargs = build_request(op, path_ids, args)
    return await client.request(method, url, headers=headers, **kwargs)


async def create_record(
    client: httpx.AsyncClient, registry: Any, headers: dict[str, str], type_: str
) -> str:
    """Create a record of ``type_`` over REST; returns its id."""
    creator = CREATORS[type_]
    if callable(creator):
        return await creator(client, registry, headers)
    op_name, make = creator
    op = registry.get(op_name)
    response = await call(client, op, headers, args=make())
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]["id"]
