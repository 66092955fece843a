"""Demo data for the CRM, tasks and activities, created through the domains' services."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.activities import service as activities
from core.crm import sales, service
from core.crm.schemas import (
    ConvertLeadIn,
    CreateCompanyIn,
    CreateContactIn,
    CreateDealIn,
    CreateDealStageIn,
    CreateInvoiceIn,
    CreateLeadIn,
    LineItemIn,
)
from core.db import WorkspaceId
from core.tasks import service as tasks

COMPANIES = [
    ("Northwind Traders", "northwind.example", "Wholesale food distributor, 40 staff."),
    ("Bluebird Analytics", "bluebird.example", "Data consultancy; evaluating our API."),
    ("Harbor & Pine Dental", "harborpine.example", "Three clinics, wants online booking."),
]
CONTACTS = [
    ("Maya Chen", "maya.chen@northwind.example", "Head of Operations", 0),
    ("Luis Ortega", "luis@northwind.example", "IT Manager", 0),
    ("Priya Raman", "priya@bluebird.example", "CTO", 1),
    ("Tom Becker", "tom.becker@bluebird.example", "Data Engineer", 1),
    ("Dr. Sara Malik", "sara@harborpine.example", "Owner", 2),
    ("Jonas Weber", "jonas@harborpine.example", "Practice Manager", 2),
]
LEADS = [
    ("Ava Thompson", "ava@lumenfit.example", "Lumen Fitness", "website", "qualified"),
    ("Kenji Sato", "kenji@sato-arch.example", "Sato Architects", "referral", "working"),
    ("Elena Petrova", "elena@petrova.example", None, "campaign", "new"),
    ("Marcus Lee", "marcus@greenleaf.example", "Greenleaf Grocers", "mcp", "new"),
]


async def seed_crm(session: AsyncSession, ws: WorkspaceId) -> None:
    """~3 companies, 6 contacts, 4 leads, a stage (beside the default pipeline), 3 deals,
    an invoice, tasks and activities."""
    # proposal and won come with the default pipeline of every new workspace
    await sales.create_stage(
        session, ws, CreateDealStageIn(key="discovery", name="Discovery", position=15)
    )
    companies = [
        await service.create_company(
            session, ws, CreateCompanyIn(name=n, domain=d, website=f"https://{d}", notes=note)
        )
        for n, d, note in COMPANIES
    ]
    contacts = [
        await service.create_contact(
            session, ws, CreateContactIn(name=n, email=e, title=t, company_id=companies[c].id)
        )
        for n, e, t, c in CONTACTS
    ]
    leads = [
        await service.create_lead(
            session,
            ws,
            CreateLeadIn(
                name=n,
                email=e,
                company_name=c,
                source=s,  # type: ignore[arg-type]
                status=st,  # type: ignore[arg-type]
                custom_fields={"budget": "5-10k"} if st == "qualified" else {},
            ),
        )
        for n, e, c, s, st in LEADS
    ]
    deals = [
        await sales.create_deal(
            session,
            ws,
            CreateDealIn(
                name="Northwind ordering portal",
                stage="proposal",
                amount_cents=1_850_000,
                company_id=companies[0].id,
                contact_id=contacts[0].id,
            ),
        ),
        await sales.create_deal(
            session,
            ws,
            CreateDealIn(
                name="Bluebird API pilot",
                stage="discovery",
                amount_cents=600_000,
                company_id=companies[1].id,
                contact_id=contacts[2].id,
            ),
        ),
    ]
    converted = await service.convert_lead(
        session,
        ws,
        ConvertLeadIn(
            lead_id=leads[0].id,
            create_deal=True,
            deal_name="Lumen Fitness memberships",
            amount_cents=420_000,
            stage="won",
        ),
    )
    await sales.create_invoice(
        session,
        ws,
        CreateInvoiceIn(
            invoice_number="INV-1001",
            status="sent",
            company_id=converted.company.id if converted.company else None,
            deal_id=converted.deal.id if converted.deal else None,
            line_items=[
                LineItemIn(
                    kind="subscription",
                    name="Membership platform (annual)",
                    unit_amount_cents=360_000,
                ),
                LineItemIn(kind="service", name="Onboarding", quantity=2, unit_amount_cents=30_000),
            ],
        ),
    )
    for title, related_type, related_id, assignee in (
        ("Send revised proposal to Maya", "deal", deals[0].id, "sales-agent"),
        ("Book technical call with Priya", "contact", contacts[2].id, "sales-agent"),
        ("Qualify Kenji's budget", "lead", leads[1].id, None),
    ):
        await tasks.create_task(
            session,
            ws,
            {
                "title": title,
                "status": "open",
                "priority": "normal",
                "assignee_id": assignee,
                "related_resource_type": related_type,
                "related_resource_id": related_id,
            },
        )
    for type_, summary, body, related_type, related_id in (
        (
            "call",
            "Discovery call with Priya",
            "Needs SSO and an audit log export.",
            "contact",
            contacts[2].id,
        ),
        (
            "email",
            "Sent pricing to Maya",
            "Quoted the ordering portal at $18,500.",
            "deal",
            deals[0].id,
        ),
        ("agent_action", "Converted lead Ava Thompson", None, "lead", leads[0].id),
    ):
        await activities.log_activity(
            session,
            ws,
            {
                "type": type_,
                "summary": summary,
                "body": body,
                "related_resource_type": related_type,
                "related_resource_id": related_id,
                "logged_by": "demo",
            },
        )
