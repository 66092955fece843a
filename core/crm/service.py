"""Rules for companies, contacts and leads (incl. conversion). Never commits.

Every write keeps ``search_text`` current and emits its domain event in the caller's
transaction; foreign or unknown related ids raise ``NotFound`` (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.crm import repository as repo
from core.crm import sales
from core.crm.models import Company, Contact, Lead
from core.crm.schemas import (
    CompanyPublic,
    ContactPublic,
    ConvertLeadIn,
    ConvertLeadOut,
    CreateCompanyIn,
    CreateContactIn,
    CreateDealIn,
    CreateLeadIn,
    DealPublic,
    LeadPublic,
    UpdateCompanyIn,
    UpdateContactIn,
    UpdateLeadIn,
    public_json,
)
from core.db import WorkspaceId, utcnow
from core.erasure import erase_linked, scrub_copies
from core.errors import Conflict, NotFound
from core.events.service import emit
from core.ids import new_id
from core.platform import platform_of
from core.search import build_search_text

LEAD_SOURCE_BY_CHANNEL = {"rest": "api", "mcp": "mcp", "cli": "manual"}


def _changes(args: BaseModel, skip: set[str]) -> dict[str, Any]:
    """Fields the caller actually sent (PATCH semantics), minus path params."""
    return {k: getattr(args, k) for k in args.model_fields_set if k not in skip}


# ---------------------------------------------------------------- companies


def _company_search(c: Company) -> str:
    return build_search_text(c.name, c.domain, c.website, c.notes)


async def create_company(session: AsyncSession, ws: WorkspaceId, data: CreateCompanyIn) -> Company:
    now = utcnow()
    company = Company(
        id=new_id("com"), workspace_id=ws, created_at=now, updated_at=now, **data.model_dump()
    )
    company.search_text = _company_search(company)
    session.add(company)
    await session.flush()
    await emit(session, ws, "company.created", public_json(CompanyPublic, company))
    return company


async def update_company(session: AsyncSession, ws: WorkspaceId, data: UpdateCompanyIn) -> Company:
    company = await repo.require(session, Company, ws, data.company_id, "company")
    changes = _changes(data, {"company_id"})
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    for key, value in changes.items():
        setattr(company, key, value)
    company.search_text = _company_search(company)
    company.updated_at = utcnow()
    await session.flush()
    await emit(session, ws, "company.updated", public_json(CompanyPublic, company))
    return company


# ---------------------------------------------------------------- contacts


def _contact_search(c: Contact) -> str:
    return build_search_text(c.name, c.email, c.company_name, c.notes)


async def _link_company(session: AsyncSession, ws: WorkspaceId, contact: Contact) -> None:
    if contact.company_id is not None:
        company = await repo.require(session, Company, ws, contact.company_id, "company")
        contact.company_name = company.name


async def create_contact(session: AsyncSession, ws: WorkspaceId, data: CreateContactIn) -> Contact:
    now = utcnow()
    contact = Contact(
        id=new_id("con"), workspace_id=ws, created_at=now, updated_at=now, **data.model_dump()
    )
    await _link_company(session, ws, contact)
    contact.search_text = _contact_search(contact)
    session.add(contact)
    await session.flush()
    await emit(session, ws, "contact.created", public_json(ContactPublic, contact))
    return contact


async def update_contact(session: AsyncSession, ws: WorkspaceId, data: UpdateContactIn) -> Contact:
    contact = await repo.require(session, Contact, ws, data.contact_id, "contact")
    if contact.erased_at is not None:
        raise Conflict(
            "The contact was erased and can no longer be changed.", code="contact_erased"
        )
    changes = _changes(data, {"contact_id"})
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    if changes.get("company_id") is not None:
        # Before any change: a query would autoflush an unknown company id into a
        # foreign-key error (500) instead of company_not_found.
        await repo.require(session, Company, ws, changes["company_id"], "company")
    for key, value in changes.items():
        setattr(contact, key, value)
    if "company_id" in changes:
        await _link_company(session, ws, contact)
    contact.search_text = _contact_search(contact)
    contact.updated_at = utcnow()
    await session.flush()
    await emit(session, ws, "contact.updated", public_json(ContactPublic, contact))
    return contact


PERSONAL_FIELDS = ("name", "email", "phone", "title", "notes")


CONTACT_EVENTS = ("contact.created", "contact.updated")
LEAD_EVENTS = ("lead.created", "lead.updated", "lead.converted")
ERASED_NAME = "(erased)"


async def erase_contact(session: AsyncSession, ws: WorkspaceId, contact_id: str) -> Contact:
    """GDPR erasure: remove the personal fields, keep a stub with ``erased_at``.

    The lead the contact was converted from is the same person: its personal fields go
    too. So do the copies (event and webhook payloads, stored replays) and the text of
    the tasks and activities linked to either (see ``core.erasure``). Repeating it is
    harmless (the stub is returned, no second event).
    """
    contact = await repo.require(session, Contact, ws, contact_id, "contact")
    if contact.erased_at is not None:
        return contact
    now = utcnow()
    for field in PERSONAL_FIELDS:
        setattr(contact, field, None)
    contact.search_text = ""
    contact.erased_at = now
    contact.updated_at = now
    leads = await repo.leads_converted_to(session, ws, contact_id)
    for lead in leads:
        lead.name = ERASED_NAME
        lead.email = lead.phone = lead.title = lead.notes = None
        lead.custom_fields = {}
        lead.search_text = ""
        lead.updated_at = now
    await session.flush()
    await scrub_copies(session, ws, [contact_id], event_types=CONTACT_EVENTS)
    await scrub_copies(session, ws, [lead.id for lead in leads], event_types=LEAD_EVENTS)
    await erase_linked(session, ws, {"contact": [contact_id], "lead": [ld.id for ld in leads]})
    await emit(session, ws, "contact.erased", public_json(ContactPublic, contact))
    return contact


# ---------------------------------------------------------------- leads


def _lead_search(lead: Lead) -> str:
    return build_search_text(lead.name, lead.email, lead.phone, lead.company_name, lead.notes)


CHECK_AGENT = "check_agent"
"""The conversations domain's capability: 404 ``agent_not_found`` unless the workspace
has the agent (a lead's ``agent_id``)."""


async def check_agent(session: AsyncSession, ws: WorkspaceId, agent_id: str) -> None:
    """Raise 404 unless ``agent_id`` is an agent of the workspace."""
    check = platform_of(session).capability(CHECK_AGENT)
    if check is None:  # no conversations domain: no agent can exist
        raise NotFound("agent", agent_id)
    await check(session, ws, agent_id)


async def create_lead(
    session: AsyncSession, ws: WorkspaceId, data: CreateLeadIn, *, channel: str = "rest"
) -> Lead:
    if data.agent_id is not None:
        await check_agent(session, ws, data.agent_id)
    now = utcnow()
    values = data.model_dump()
    values["source"] = values["source"] or LEAD_SOURCE_BY_CHANNEL.get(channel, "other")
    lead = Lead(id=new_id("lead"), workspace_id=ws, created_at=now, updated_at=now, **values)
    lead.search_text = _lead_search(lead)
    session.add(lead)
    await session.flush()
    await emit(session, ws, "lead.created", public_json(LeadPublic, lead))
    return lead


async def update_lead(session: AsyncSession, ws: WorkspaceId, data: UpdateLeadIn) -> Lead:
    lead = await repo.require(session, Lead, ws, data.lead_id, "lead")
    changes = _changes(data, {"lead_id"})
    if changes.get("agent_id") is not None:
        await check_agent(session, ws, changes["agent_id"])
    for key in ("name", "source"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    if changes.get("status") is not None and lead.status == "converted":
        raise Conflict(
            "The lead was converted; its status is final.", code="lead_already_converted"
        )
    if changes.get("status") is None:
        changes.pop("status", None)
    custom = changes.pop("custom_fields", None)
    if custom is not None:
        merged = dict(lead.custom_fields or {})
        for key, value in custom.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        lead.custom_fields = merged
    for key, value in changes.items():
        setattr(lead, key, value)
    lead.search_text = _lead_search(lead)
    lead.updated_at = utcnow()
    await session.flush()
    await emit(session, ws, "lead.updated", public_json(LeadPublic, lead))
    return lead


async def convert_lead(
    session: AsyncSession, ws: WorkspaceId, data: ConvertLeadIn
) -> ConvertLeadOut:
    """Create or link the contact and company, optionally create a deal, mark the lead
    converted — all in the caller's transaction, so any failure leaves nothing behind."""
    lead = await repo.require(session, Lead, ws, data.lead_id, "lead", for_update=True)
    if lead.status == "converted":
        raise Conflict(f"Lead {lead.id} was already converted.", code="lead_already_converted")

    company: Company | None = None
    if data.company_id is not None:
        company = await repo.require(session, Company, ws, data.company_id, "company")
    else:
        name = data.company_name or lead.company_name
        if name:
            company = await repo.company_by_name(session, ws, name) or await create_company(
                session, ws, CreateCompanyIn(name=name)
            )

    if data.contact_id is not None:
        contact = await repo.require(session, Contact, ws, data.contact_id, "contact")
        if contact.erased_at is not None:
            raise Conflict("The contact was erased.", code="contact_erased")
    else:
        contact = await create_contact(
            session,
            ws,
            CreateContactIn(
                name=lead.name,
                email=lead.email,
                phone=lead.phone,
                title=lead.title,
                company_id=company.id if company else None,
                company_name=lead.company_name if company is None else None,
                notes=lead.notes,
            ),
        )

    deal = None
    if data.create_deal:
        deal = await sales.create_deal(
            session,
            ws,
            CreateDealIn(
                name=data.deal_name or lead.name,
                stage=data.stage,
                amount_cents=data.amount_cents or 0,
                currency=data.currency or "USD",
                company_id=company.id if company else None,
                contact_id=contact.id,
            ),
            lead_id=lead.id,
        )

    now: datetime = utcnow()
    lead.status = "converted"
    lead.converted_at = now
    lead.converted_contact_id = contact.id
    lead.converted_company_id = company.id if company else None
    lead.converted_deal_id = deal.id if deal else None
    lead.updated_at = now
    await session.flush()
    await emit(session, ws, "lead.converted", public_json(LeadPublic, lead))
    return ConvertLeadOut.model_validate(
        {
            **LeadPublic.model_validate(lead).model_dump(),
            "contact": ContactPublic.model_validate(contact),
            "company": CompanyPublic.model_validate(company) if company else None,
            "deal": DealPublic.model_validate(deal) if deal else None,
        }
    )
