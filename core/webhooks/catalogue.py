"""The built-in event types (SPEC §6 plus the CRM's own events) and the custom-key rule."""

from __future__ import annotations

import re

WILDCARD = "*"
"""Subscribing to ``*`` means every event type, built-in or custom."""

EVENT_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""A custom event key: lowercase, dotted, at least two segments (``campaign.kickoff``)."""

BUILTIN_EVENT_TYPES: dict[str, str] = {
    # SPEC §6
    "contact.created": "A contact was created.",
    "lead.created": "A lead was created.",
    "lead.converted": "A lead was converted into a contact, company or deal.",
    "deal.updated": "A deal changed (stage, amount, owner…).",
    "ticket.created": "A support ticket was opened.",
    "workflow_run.succeeded": "A workflow run finished every step.",
    "workflow_run.failed": "A workflow run stopped on an error.",
    "crawl.completed": "A site crawl finished.",
    "crawl.failed": "A site crawl failed.",
    "webhook.test": "A test event queued with send_test_webhook_event.",
    # Further domain events the platform emits
    "contact.updated": "A contact changed.",
    "contact.erased": "A contact's personal data was erased.",
    "company.created": "A company was created.",
    "company.updated": "A company changed.",
    "lead.updated": "A lead changed.",
    "deal.created": "A deal was created.",
    "invoice.created": "An invoice was created.",
    "payment.recorded": "A payment was recorded against an invoice.",
    "task.created": "A task was created.",
    "task.updated": "A task changed.",
    "activity.logged": "An activity (call, email, meeting, note) was logged.",
    "webhook_endpoint.disabled": "A webhook endpoint was disabled after permanent failures.",
    "deal_stage.created": "A deal pipeline stage was created.",
    "invoice.paid": "An invoice was paid in full.",
    "task.completed": "A task was completed.",
    "accounting_account.created": "An accounting account was created.",
    "journal_entry.created": "A journal entry was posted.",
}

_CATEGORIES = {
    "contact": "crm",
    "company": "crm",
    "lead": "crm",
    "deal": "crm",
    "invoice": "crm",
    "payment": "crm",
    "ticket": "support",
    "task": "tasks",
    "activity": "activity",
    "workflow_run": "workflows",
    "crawl": "crawls",
    "webhook": "integrations",
    "webhook_endpoint": "integrations",
    "deal_stage": "crm",
    "accounting_account": "accounting",
    "journal_entry": "accounting",
}


def category_of(key: str) -> str:
    """The category of a built-in key (or the first segment of a custom one)."""
    head = key.split(".", 1)[0]
    return _CATEGORIES.get(head, head)


def is_builtin(key: str) -> bool:
    return key in BUILTIN_EVENT_TYPES


def subscribed(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` receives ``event_type``."""
    return WILDCARD in event_types or event_type in event_types
