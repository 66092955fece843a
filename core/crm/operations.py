"""CRM operations: scopes ``crm:read`` / ``crm:write``, module ``crm``, three toolsets
(``crm``: contacts and companies, ``sales``: leads and deals, ``accounting``: invoices,
payments and the books). Every write emits an event webhooks deliver (``open_world``).

Handlers are thin: arguments → service or repository → result, and ``ctx.resource_id``
for the audit row.
"""

from __future__ import annotations

from typing import Any

from core.crm import accounting, sales, service
from core.crm import repository as repo
from core.crm.models import (
    AccountingAccount,
    Company,
    Contact,
    Deal,
    DealStage,
    Invoice,
    Lead,
    Payment,
)
from core.crm.schemas import (
    AccountPublic,
    CompanyIdIn,
    CompanyPublic,
    ContactIdIn,
    ContactPublic,
    ConvertLeadIn,
    ConvertLeadOut,
    CreateAccountIn,
    CreateCompanyIn,
    CreateContactIn,
    CreateDealIn,
    CreateDealStageIn,
    CreateInvoiceIn,
    CreateJournalEntryIn,
    CreateLeadIn,
    DealIdIn,
    DealPublic,
    DealStagePublic,
    InvoiceIdIn,
    InvoicePublic,
    JournalEntryPublic,
    LeadIdIn,
    LeadPublic,
    ListAccountsIn,
    ListDealsIn,
    ListDealStagesIn,
    ListInvoicesIn,
    ListJournalEntriesIn,
    ListLeadsIn,
    ListPaymentsIn,
    PaymentPublic,
    RecordPaymentIn,
    SearchCompaniesIn,
    SearchContactsIn,
    UpdateCompanyIn,
    UpdateContactIn,
    UpdateDealIn,
    UpdateDealStageIn,
    UpdateLeadIn,
)
from core.errors import Conflict, NotFound, Unprocessable
from core.operations import Context, Declare, Toolset
from core.pagination import Page

# ---------------------------------------------------------------- handlers


async def search_contacts(ctx: Context, a: SearchContactsIn) -> Page[Contact]:
    return await repo.list_contacts(
        ctx.session,
        ctx.workspace_id,
        query=a.query,
        company_id=a.company_id,
        limit=a.limit,
        cursor=a.cursor,
    )


async def create_contact(ctx: Context, a: CreateContactIn) -> Contact:
    contact = await service.create_contact(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = contact.id
    return contact


async def get_contact(ctx: Context, a: ContactIdIn) -> Contact:
    return await repo.require(ctx.session, Contact, ctx.workspace_id, a.contact_id, "contact")


async def update_contact(ctx: Context, a: UpdateContactIn) -> Contact:
    ctx.resource_id = a.contact_id
    return await service.update_contact(ctx.session, ctx.workspace_id, a)


async def erase_contact(ctx: Context, a: ContactIdIn) -> Contact:
    ctx.resource_id = a.contact_id
    return await service.erase_contact(ctx.session, ctx.workspace_id, a.contact_id)


async def search_companies(ctx: Context, a: SearchCompaniesIn) -> Page[Company]:
    return await repo.list_companies(
        ctx.session, ctx.workspace_id, query=a.query, limit=a.limit, cursor=a.cursor
    )


async def create_company(ctx: Context, a: CreateCompanyIn) -> Company:
    company = await service.create_company(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = company.id
    return company


async def get_company(ctx: Context, a: CompanyIdIn) -> Company:
    return await repo.require(ctx.session, Company, ctx.workspace_id, a.company_id, "company")


async def update_company(ctx: Context, a: UpdateCompanyIn) -> Company:
    ctx.resource_id = a.company_id
    return await service.update_company(ctx.session, ctx.workspace_id, a)


async def list_leads(ctx: Context, a: ListLeadsIn) -> Page[Lead]:
    if a.agent_id is not None:  # an agent of another workspace: 404, as for any foreign id
        await service.check_agent(ctx.session, ctx.workspace_id, a.agent_id)
    return await repo.list_leads(
        ctx.session,
        ctx.workspace_id,
        query=a.query,
        status=a.status,
        source=a.source,
        custom_field_key=a.custom_field_key,
        custom_field_value=a.custom_field_value,
        limit=a.limit,
        cursor=a.cursor,
        agent_id=a.agent_id,
    )


async def create_lead(ctx: Context, a: CreateLeadIn) -> Lead:
    lead = await service.create_lead(ctx.session, ctx.workspace_id, a, channel=ctx.channel.value)
    ctx.resource_id = lead.id
    return lead


async def get_lead(ctx: Context, a: LeadIdIn) -> Lead:
    return await repo.require(ctx.session, Lead, ctx.workspace_id, a.lead_id, "lead")


async def update_lead(ctx: Context, a: UpdateLeadIn) -> Lead:
    ctx.resource_id = a.lead_id
    return await service.update_lead(ctx.session, ctx.workspace_id, a)


async def convert_lead(ctx: Context, a: ConvertLeadIn) -> ConvertLeadOut:
    ctx.resource_id = a.lead_id
    return await service.convert_lead(ctx.session, ctx.workspace_id, a)


async def list_deal_stages(ctx: Context, a: ListDealStagesIn) -> Page[DealStage]:
    return await repo.list_stages(
        ctx.session, ctx.workspace_id, query=a.query, limit=a.limit, cursor=a.cursor
    )


async def create_deal_stage(ctx: Context, a: CreateDealStageIn) -> DealStage:
    stage = await sales.create_stage(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = stage.id
    return stage


async def update_deal_stage(ctx: Context, a: UpdateDealStageIn) -> DealStage:
    ctx.resource_id = a.deal_stage_id
    return await sales.update_stage(
        ctx.session, ctx.workspace_id, a.deal_stage_id, a.name, a.position
    )


async def list_deals(ctx: Context, a: ListDealsIn) -> Page[Deal]:
    return await repo.list_deals(
        ctx.session, ctx.workspace_id, stage=a.stage, status=a.status, company_id=a.company_id,
        contact_id=a.contact_id, limit=a.limit, cursor=a.cursor,
    )  # fmt: skip


async def create_deal(ctx: Context, a: CreateDealIn) -> Deal:
    deal = await sales.create_deal(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = deal.id
    return deal


async def get_deal(ctx: Context, a: DealIdIn) -> Deal:
    return await repo.require(ctx.session, Deal, ctx.workspace_id, a.deal_id, "deal")


async def update_deal(ctx: Context, a: UpdateDealIn) -> Deal:
    ctx.resource_id = a.deal_id
    return await sales.update_deal(ctx.session, ctx.workspace_id, a)


async def list_invoices(ctx: Context, a: ListInvoicesIn) -> Page[Invoice]:
    return await repo.list_invoices(
        ctx.session, ctx.workspace_id, status=a.status, company_id=a.company_id,
        contact_id=a.contact_id, deal_id=a.deal_id, limit=a.limit, cursor=a.cursor,
    )  # fmt: skip


async def create_invoice(ctx: Context, a: CreateInvoiceIn) -> Invoice:
    invoice = await sales.create_invoice(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = invoice.id
    return invoice


async def get_invoice(ctx: Context, a: InvoiceIdIn) -> Invoice:
    return await repo.require(ctx.session, Invoice, ctx.workspace_id, a.invoice_id, "invoice")


async def record_payment(ctx: Context, a: RecordPaymentIn) -> dict[str, Any]:
    out = await sales.record_payment(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = out["id"]
    return out


async def list_payments(ctx: Context, a: ListPaymentsIn) -> Page[Payment]:
    return await repo.list_payments(
        ctx.session, ctx.workspace_id, invoice_id=a.invoice_id, limit=a.limit, cursor=a.cursor
    )


async def list_accounting_accounts(ctx: Context, a: ListAccountsIn) -> Page[AccountingAccount]:
    return await repo.list_accounts(
        ctx.session, ctx.workspace_id, type_=a.type, query=a.query, limit=a.limit, cursor=a.cursor
    )


async def create_accounting_account(ctx: Context, a: CreateAccountIn) -> AccountingAccount:
    account = await accounting.create_account(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = account.id
    return account


async def list_journal_entries(ctx: Context, a: ListJournalEntriesIn) -> Page[Any]:
    return await accounting.list_entries(
        ctx.session, ctx.workspace_id, status=a.status, query=a.query, limit=a.limit,
        cursor=a.cursor,
    )  # fmt: skip


async def create_journal_entry(ctx: Context, a: CreateJournalEntryIn) -> dict[str, Any]:
    out = await accounting.create_entry(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = out["id"]
    return out


# ---------------------------------------------------------------- declarations

ERRORS = (NotFound, Conflict, Unprocessable)
"""What every operation but a list may answer besides the gate's errors (OpenAPI)."""
_SHARED = {"scope": "crm", "module": "crm", "writes_emit_events": True, "errors": ERRORS}
CRM = Declare(toolset="crm", **_SHARED)  # type: ignore[arg-type]
SALES = Declare(toolset="sales", **_SHARED)  # type: ignore[arg-type]
ACCOUNTING = Declare(toolset="accounting", **_SHARED)  # type: ignore[arg-type]

PAGE = " Newest first."

OPERATIONS = [
    CRM.list(
        "search_contacts", "/contacts", search_contacts, SearchContactsIn, ContactPublic,
        operation_id="listContacts",
        summary="Search contacts",
        description="Find people in the CRM: `query` is free text over name, email, company "
        "and notes (every word must match); company_id lists a company's people. Erased "
        "contacts are stubs." + PAGE,
    ),
    CRM.create(
        "create_contact", "/contacts", create_contact, CreateContactIn, ContactPublic,
        summary="Create a contact",
        description="Add a person to the CRM; search first to avoid duplicates. Link a "
        "company by company_id (see search_companies) or company_name.",
    ),
    CRM.get(
        "get_contact", "/contacts/{contact_id}", get_contact, ContactIdIn, ContactPublic,
        summary="Get a contact",
        description="Fetch one contact by id with all its fields.",
    ),
    CRM.update(
        "update_contact", "/contacts/{contact_id}", update_contact, UpdateContactIn,
        ContactPublic,
        summary="Update a contact",
        description="Change a contact; only sent fields change, null clears one. An erased "
        "contact answers 409 contact_erased.",
    ),
    CRM.delete(
        "erase_contact", "/contacts/{contact_id}", erase_contact, ContactIdIn, ContactPublic,
        summary="Erase a contact (GDPR)",
        description="GDPR erasure: permanently blank a contact's personal data, keeping a "
        "stub (erased_at) so links still work. Cannot be undone; use only when asked to erase "
        "or forget a person.",
    ),
    CRM.list(
        "search_companies", "/companies", search_companies, SearchCompaniesIn, CompanyPublic,
        operation_id="listCompanies",
        summary="Search companies",
        description="Find companies (organisations) by free text over name, domain, website "
        "and notes." + PAGE,
    ),
    CRM.create(
        "create_company", "/companies", create_company, CreateCompanyIn, CompanyPublic,
        summary="Create a company",
        description="Add a company (organisation) to the CRM; search first to avoid "
        "duplicates.",
    ),
    CRM.get(
        "get_company", "/companies/{company_id}", get_company, CompanyIdIn, CompanyPublic,
        summary="Get a company",
        description="Fetch one company by id.",
    ),
    CRM.update(
        "update_company", "/companies/{company_id}", update_company, UpdateCompanyIn,
        CompanyPublic,
        summary="Update a company",
        description="Change a company; only sent fields change, null clears one.",
    ),
    SALES.list(
        "list_leads", "/leads", list_leads, ListLeadsIn, LeadPublic,
        summary="List leads", errors=(NotFound,),
        description="List or search sales leads by status, source, agent_id, a custom field "
        "(custom_field_key, optionally custom_field_value) or free text `query`." + PAGE,
    ),
    SALES.create(
        "create_lead", "/leads", create_lead, CreateLeadIn, LeadPublic,
        summary="Create a lead",
        description="Record a prospect who is not yet a customer; put extra attributes in "
        "custom_fields.",
    ),
    SALES.get(
        "get_lead", "/leads/{lead_id}", get_lead, LeadIdIn, LeadPublic,
        summary="Get a lead",
        description="Fetch one lead with its custom fields and conversion links.",
    ),
    SALES.update(
        "update_lead", "/leads/{lead_id}", update_lead, UpdateLeadIn, LeadPublic,
        summary="Update a lead",
        description="Change a lead; only sent fields change. To convert a lead use "
        "convert_lead.",
    ),
    SALES.action(
        "convert_lead", "POST", "/leads/{lead_id}/convert", convert_lead, ConvertLeadIn,
        ConvertLeadOut,
        summary="Convert a lead",
        description="Turn a qualified lead into a customer, all or nothing: creates or links "
        "a contact and a company and, with create_deal, opens a deal. A lead converts once "
        "(409 lead_already_converted).",
    ),
    SALES.list(
        "list_deal_stages", "/deal-stages", list_deal_stages, ListDealStagesIn,
        DealStagePublic,
        summary="List deal stages",
        description="List the pipeline's stages (key, name, position); a key is what a "
        "deal's `stage` takes." + PAGE,
    ),
    SALES.create(
        "create_deal_stage", "/deal-stages", create_deal_stage, CreateDealStageIn,
        DealStagePublic,
        summary="Create a deal stage",
        description="Add a stage to the sales pipeline; keys are unique (409 "
        "deal_stage_exists).",
    ),
    SALES.update(
        "update_deal_stage", "/deal-stages/{deal_stage_id}", update_deal_stage, UpdateDealStageIn,
        DealStagePublic,
        summary="Update a deal stage",
        description="Rename or reorder a stage (the default pipeline's too); its key stays.",
        errors=(NotFound,),
    ),
    SALES.list(
        "list_deals", "/deals", list_deals, ListDealsIn, DealPublic,
        summary="List deals",
        description="List deals (sales opportunities), filtered by stage key, status, "
        "company or contact." + PAGE,
    ),
    SALES.create(
        "create_deal", "/deals", create_deal, CreateDealIn, DealPublic,
        summary="Create a deal",
        description="Open a sales opportunity. `stage` must be an existing stage key (422 "
        "deal_stage_not_found); omitted, the first stage is used.",
    ),
    SALES.get(
        "get_deal", "/deals/{deal_id}", get_deal, DealIdIn, DealPublic,
        summary="Get a deal",
        description="Fetch one deal by id.",
    ),
    SALES.update(
        "update_deal", "/deals/{deal_id}", update_deal, UpdateDealIn, DealPublic,
        summary="Update a deal",
        description="Move a deal to another stage or change its amount, currency or status "
        "(won or lost closes it); only sent fields change.",
    ),
    ACCOUNTING.list(
        "list_invoices", "/invoices", list_invoices, ListInvoicesIn, InvoicePublic,
        summary="List invoices",
        description="List invoices with totals, paid amount and open balance; filter by "
        "status, company, contact or deal." + PAGE,
    ),
    ACCOUNTING.create(
        "create_invoice", "/invoices", create_invoice, CreateInvoiceIn, InvoicePublic,
        summary="Create an invoice",
        description="Bill a customer with line items; the server computes subtotal, total "
        "and balance. invoice_number is unique (409 invoice_number_taken).",
    ),
    ACCOUNTING.get(
        "get_invoice", "/invoices/{invoice_id}", get_invoice, InvoiceIdIn, InvoicePublic,
        summary="Get an invoice",
        description="Fetch one invoice with line items, totals and balance.",
    ),
    ACCOUNTING.create(
        "record_payment", "/payments", record_payment, RecordPaymentIn, PaymentPublic,
        summary="Record a payment",
        description="Record money received against an invoice; its status becomes "
        "partially_paid or paid. More than the open balance answers 422 "
        "payment_exceeds_balance. The answer carries the invoice's new status and balance.",
    ),
    ACCOUNTING.list(
        "list_payments", "/payments", list_payments, ListPaymentsIn, PaymentPublic,
        summary="List payments",
        description="List recorded payments, optionally of one invoice." + PAGE,
    ),
    ACCOUNTING.list(
        "list_accounting_accounts", "/accounting/accounts", list_accounting_accounts,
        ListAccountsIn, AccountPublic,
        summary="List accounting accounts",
        description="List the chart of accounts (code, name, type); filter by type or text "
        "in code or name." + PAGE,
    ),
    ACCOUNTING.create(
        "create_accounting_account", "/accounting/accounts", create_accounting_account,
        CreateAccountIn, AccountPublic,
        summary="Create an accounting account",
        description="Add an account to the chart of accounts; codes are unique (409 "
        "accounting_account_exists).",
    ),
    ACCOUNTING.list(
        "list_journal_entries", "/accounting/journal-entries", list_journal_entries,
        ListJournalEntriesIn, JournalEntryPublic,
        summary="List journal entries",
        description="List journal entries with their debit and credit lines; filter by "
        "status or text in memo or reference." + PAGE,
    ),
    ACCOUNTING.create(
        "create_journal_entry", "/accounting/journal-entries", create_journal_entry,
        CreateJournalEntryIn, JournalEntryPublic,
        summary="Create a journal entry",
        description="Book a double-entry journal entry; each line debits or credits one "
        "account (ids from list_accounting_accounts). A posted entry must balance, else 422 "
        "journal_unbalanced.",
    ),
]  # fmt: skip

TOOLSETS = (
    Toolset("crm", "Contacts and companies: search, create, update, erase.", default=True),
    Toolset("sales", "Leads, their conversion, deal stages and deals."),
    Toolset("accounting", "Invoices, payments, accounts and journal entries."),
)
