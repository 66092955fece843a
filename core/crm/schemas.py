"""CRM input and public shapes (descriptions double as MCP tool documentation).

Inputs carry their rules in their types (``core.fields``): names, titles, keys and other
labels are ``OneLine``, addresses ``Email``, links to other records ``RecordId``, instants
``UtcDatetime``; notes, descriptions, memos and search text stay free text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.fields import (
    CUSTOM_FIELDS_SCHEMA,
    Email,
    OneLine,
    RecordId,
    UtcDatetime,
    check_custom_fields,
    one_line,
    record_id,
)
from core.pagination import ListParams, PagedListParams

LeadStatus = Literal["new", "working", "qualified", "disqualified", "converted"]
OpenLeadStatus = Literal["new", "working", "qualified", "disqualified"]
LeadSource = Literal["manual", "website", "referral", "campaign", "import", "api", "mcp", "other"]
DealStatus = Literal["open", "won", "lost"]
InvoiceStatus = Literal["draft", "sent", "partially_paid", "paid", "void"]
LineItemKind = Literal["product", "service", "subscription", "fee", "other"]
PaymentMethod = Literal["card", "bank_transfer", "cash", "check", "other"]
AccountType = Literal["asset", "liability", "equity", "revenue", "expense"]
EntryStatus = Literal["draft", "posted"]

Scalar = Annotated[str, Field(max_length=1000)] | int | float | bool


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
CURRENCY_TEXT = "ISO 4217 code, e.g. EUR."
QUERY_FIELD = "Free text; every word must match (as a prefix)."


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _List(ListParams):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def public_json(shape: type[BaseModel], row: Any) -> dict[str, Any]:
    """``row`` (a table row or a dict) in its public ``shape`` as JSON, empty fields
    omitted: what an event carries."""
    return shape.model_validate(row, from_attributes=True).model_dump(
        mode="json", exclude_none=True
    )




# ---------------------------------------------------------------- companies


class CompanyPublic(_Out):
    id: str
    name: str
    domain: str | None = None
    website: str | None = None
    phone: str | None = None
    industry: str | None = None
    notes: str | None = None
    created_at: datetime
    updated_at: datetime


class CompanyFields(_In):
    domain: OneLine | None = one_line("Primary web domain, e.g. acme.com.", 255)
    website: OneLine | None = one_line("Website URL.", 500)
    phone: OneLine | None = one_line("Main phone number.", 50)
    industry: OneLine | None = one_line("Industry or sector.", 100)
    notes: str | None = Field(default=None, max_length=10_000, description="Free-form notes.")


class CreateCompanyIn(CompanyFields):
    name: OneLine = one_line("Company name.", required=True)


class UpdateCompanyIn(CompanyFields):
    company_id: RecordId = record_id("company", "com", required=True)
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )


class CompanyIdIn(_In):
    company_id: RecordId = record_id("company", "com", required=True)


class SearchCompaniesIn(_List):
    query: str | None = Field(default=None, max_length=200, description=QUERY_FIELD)


# ---------------------------------------------------------------- contacts


class ContactPublic(_Out):
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    notes: str | None = None
    erased_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ContactFields(_In):
    email: Email | None = Field(default=None, description="Email address.")
    phone: OneLine | None = one_line("Phone number.", 50)
    title: OneLine | None = one_line("Job title.", 200)
    company_id: RecordId | None = record_id("company the contact works for", "com")
    company_name: OneLine | None = one_line("Company as text (set from company_id if given).", 200)
    notes: str | None = Field(default=None, max_length=10_000, description="Free-form notes.")


class CreateContactIn(ContactFields):
    name: OneLine = one_line("Full name.", required=True)


class UpdateContactIn(ContactFields):
    contact_id: RecordId = record_id("contact", "con", required=True)
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )


class ContactIdIn(_In):
    contact_id: RecordId = record_id("contact", "con", required=True)


class SearchContactsIn(_List):
    query: str | None = Field(default=None, max_length=200, description=QUERY_FIELD)
    company_id: RecordId | None = record_id("company whose contacts to list", "com")


# ---------------------------------------------------------------- leads


class LeadPublic(_Out):
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    company_name: str | None = None
    status: LeadStatus
    source: LeadSource
    notes: str | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict)
    converted_at: datetime | None = None
    converted_contact_id: str | None = None
    converted_company_id: str | None = None
    converted_deal_id: str | None = None
    agent_id: str | None = None
    created_at: datetime
    updated_at: datetime


class LeadFields(_In):
    email: Email | None = Field(default=None, description="Email address.")
    phone: OneLine | None = one_line("Phone number.", 50)
    title: OneLine | None = one_line("Job title.", 200)
    company_name: OneLine | None = one_line("Company name (free text).", 200)
    notes: str | None = Field(default=None, max_length=10_000, description="Free-form notes.")
    agent_id: RecordId | None = record_id("AI agent that captured it", "agt")


class CreateLeadIn(LeadFields):
    name: OneLine = one_line("Full name of the lead.", required=True)
    status: OpenLeadStatus = Field(default="new", description="Initial status.")
    source: LeadSource | None = Field(
        default=None,
        description="Lead source (default: the channel, api or mcp).",
    )
    custom_fields: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Extra attributes: up to 50 keys of [A-Za-z0-9_-] to scalars.",
        json_schema_extra=CUSTOM_FIELDS_SCHEMA,
    )

    check_cf = field_validator("custom_fields")(check_custom_fields)


class UpdateLeadIn(LeadFields):
    lead_id: RecordId = record_id("lead", "lead", required=True)
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )
    status: OpenLeadStatus | None = Field(
        default=None,
        description="New status (to convert, use convert_lead).",
    )
    source: LeadSource | None = Field(default=None, description="Where the lead came from.")
    custom_fields: dict[str, Scalar | None] | None = Field(
        default=None,
        description="Merged in; null removes a key.",
        json_schema_extra=CUSTOM_FIELDS_SCHEMA,
    )

    check_cf = field_validator("custom_fields")(check_custom_fields)


class LeadIdIn(_In):
    lead_id: RecordId = record_id("lead", "lead", required=True)


class ListLeadsIn(_List, PagedListParams):  # page/per_page too: a page-numbered API lists leads
    query: str | None = Field(
        default=None,
        max_length=200,
        description="Free text over name, email, phone, company and notes.",
    )
    status: LeadStatus | None = Field(default=None, description="Only leads with this status.")
    source: LeadSource | None = Field(default=None, description="Only leads from this source.")
    agent_id: RecordId | None = record_id("agent whose leads to list", "agt")
    custom_field_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Only leads with this custom field set.",
    )
    custom_field_value: str | None = Field(
        default=None,
        max_length=1000,
        description="With custom_field_key: its value, compared as text.",
    )


class ConvertLeadIn(_In):
    lead_id: RecordId = record_id("lead", "lead", required=True)
    contact_id: RecordId | None = record_id("contact to link (default: a new one)", "con")
    company_id: RecordId | None = record_id("company to link (default: by name)", "com")
    company_name: OneLine | None = one_line("Company to link or create (default: the lead's).", 200)
    create_deal: bool = Field(default=False, description="Also open a deal.")
    deal_name: OneLine | None = one_line("Deal name (default: the lead's name).", 200)
    amount_cents: int | None = Field(
        default=None, ge=0, le=10**15, description="Deal amount in cents (default 0)."
    )
    currency: Currency | None = Field(
        default=None, description="ISO 4217 code, e.g. EUR (default USD)."
    )
    stage: OneLine | None = one_line("Deal stage key (default: the first stage).", 60)


# ---------------------------------------------------------------- deal stages and deals


class DealStagePublic(_Out):
    id: str
    key: str
    name: str
    position: int
    created_at: datetime


class CreateDealStageIn(_In):
    key: OneLine = Field(
        pattern=r"^[a-z0-9_]{1,60}$",
        description="Stable key deals refer to, e.g. 'discovery'.",
    )
    name: OneLine = one_line("Display name, e.g. 'Discovery'.", 120, required=True)
    position: int = Field(
        default=0, ge=0, le=1_000_000, description="Order of the stage in the pipeline."
    )


class UpdateDealStageIn(_In):
    deal_stage_id: RecordId = record_id("deal stage", "stage", required=True)
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=120, description="New display name."
    )
    position: int | None = Field(
        default=None, ge=0, le=1_000_000, description="New order in the pipeline."
    )


class ListDealStagesIn(_List):
    query: str | None = Field(
        default=None,
        max_length=120,
        description="Only stages whose key or name contains this text.",
    )


class DealPublic(_Out):
    id: str
    name: str
    stage: str | None = None
    status: DealStatus
    amount_cents: int
    currency: str
    company_id: str | None = None
    contact_id: str | None = None
    lead_id: str | None = None
    expected_close_date: date | None = None
    notes: str | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class DealFields(_In):
    stage: OneLine | None = one_line("Key of an existing deal stage.", 60)
    company_id: RecordId | None = record_id("company the deal is with", "com")
    contact_id: RecordId | None = record_id("main contact of the deal", "con")
    expected_close_date: date | None = Field(
        default=None, description="Expected close date, YYYY-MM-DD."
    )
    notes: str | None = Field(default=None, max_length=10_000, description="Free-form notes.")


class CreateDealIn(DealFields):
    name: OneLine = one_line("Deal name.", required=True)
    status: DealStatus = Field(default="open", description="Initial status.")
    amount_cents: int = Field(default=0, ge=0, le=10**15, description="Deal value in cents.")
    currency: Currency = Field(default="USD", description="ISO 4217 code, e.g. EUR (default USD).")


class UpdateDealIn(DealFields):
    deal_id: RecordId = record_id("deal to update", "deal", required=True)
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )
    status: DealStatus | None = Field(default=None, description="won or lost closes the deal.")
    amount_cents: int | None = Field(
        default=None, ge=0, le=10**15, description="Deal value in cents."
    )
    currency: Currency | None = Field(default=None, description=CURRENCY_TEXT)


class DealIdIn(_In):
    deal_id: RecordId = record_id("deal", "deal", required=True)


class ListDealsIn(_List):
    stage: OneLine | None = one_line("Only deals in this stage.", 60)
    status: DealStatus | None = Field(default=None, description="Only deals with this status.")
    company_id: RecordId | None = record_id("company whose deals to list", "com")
    contact_id: RecordId | None = record_id("contact whose deals to list", "con")


class ConvertLeadOut(LeadPublic):
    contact: ContactPublic
    company: CompanyPublic | None = None
    deal: DealPublic | None = None


# ---------------------------------------------------------------- invoices and payments


class LineItemIn(_In):
    kind: LineItemKind = Field(
        default="service", description="product, service, subscription, fee or other."
    )
    name: OneLine = one_line("What is billed.", 200, required=True)
    description: str | None = Field(
        default=None, max_length=1000, description="Longer description."
    )
    quantity: int = Field(default=1, ge=1, le=1_000_000, description="Quantity (default 1).")
    unit_amount_cents: int = Field(ge=0, le=10**13, description="Price of one unit in cents.")


class LineItemOut(BaseModel):
    kind: str
    name: str
    description: str | None = None
    quantity: int
    unit_amount_cents: int
    amount_cents: int


class InvoicePublic(_Out):
    id: str
    invoice_number: str
    status: InvoiceStatus
    currency: str
    company_id: str | None = None
    contact_id: str | None = None
    deal_id: str | None = None
    line_items: list[LineItemOut]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    balance_cents: int
    issue_date: date | None = None
    due_date: date | None = None
    notes: str | None = None
    paid_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class CreateInvoiceIn(_In):
    invoice_number: OneLine = one_line(
        "Invoice number, unique in the workspace.", 60, required=True
    )
    status: Literal["draft", "sent"] = Field(default="draft", description="draft or sent.")
    currency: Currency = Field(default="USD", description="ISO 4217 code, e.g. EUR (default USD).")
    company_id: RecordId | None = record_id("billed company", "com")
    contact_id: RecordId | None = record_id("billed contact", "con")
    deal_id: RecordId | None = record_id("deal the invoice belongs to", "deal")
    line_items: list[LineItemIn] = Field(
        min_length=1, max_length=100, description="1-100 line items; totals are computed."
    )
    tax_cents: int = Field(default=0, ge=0, le=10**15, description="Tax added to the subtotal.")
    issue_date: date | None = Field(default=None, description="Issue date, YYYY-MM-DD.")
    due_date: date | None = Field(default=None, description="Due date, YYYY-MM-DD.")
    notes: str | None = Field(
        default=None, max_length=10_000, description="Notes printed on the invoice."
    )


class InvoiceIdIn(_In):
    invoice_id: RecordId = record_id("invoice", "inv", required=True)


class ListInvoicesIn(_List):
    status: InvoiceStatus | None = Field(default=None, description="Only invoices in this status.")
    company_id: RecordId | None = record_id("billed company", "com")
    contact_id: RecordId | None = record_id("billed contact", "con")
    deal_id: RecordId | None = record_id("deal", "deal")


class PaymentPublic(_Out):
    id: str
    invoice_id: str
    amount_cents: int
    currency: str
    method: PaymentMethod
    reference: str | None = None
    paid_at: datetime
    created_at: datetime
    invoice_status: InvoiceStatus | None = None
    invoice_balance_cents: int | None = None


class RecordPaymentIn(_In):
    invoice_id: RecordId = record_id("invoice being paid", "inv", required=True)
    amount_cents: int = Field(
        ge=1, le=10**15, description="Amount paid in cents; at most the open balance."
    )
    currency: Currency | None = Field(
        default=None, description="ISO 4217 code; must be the invoice's currency."
    )
    method: PaymentMethod = Field(
        default="other", description="card, bank_transfer, cash, check or other."
    )
    reference: OneLine | None = one_line("Bank or processor reference.", 200)
    paid_at: UtcDatetime | None = Field(
        default=None,
        description="When the money arrived, ISO-8601 with a UTC offset (default now).",
    )


class ListPaymentsIn(_List):
    invoice_id: RecordId | None = record_id("invoice whose payments to list", "inv")


# ---------------------------------------------------------------- accounting


class AccountPublic(_Out):
    id: str
    code: str
    name: str
    type: AccountType
    description: str | None = None
    created_at: datetime


class CreateAccountIn(_In):
    code: OneLine = Field(
        pattern=r"^[A-Za-z0-9._-]{1,30}$",
        description="Account code, unique in the workspace, e.g. '4000'.",
    )
    name: OneLine = one_line("Account name, e.g. 'Services revenue'.", 200, required=True)
    type: AccountType = Field(description="asset, liability, equity, revenue or expense.")
    description: str | None = Field(
        default=None, max_length=2000, description="What the account is for."
    )


class ListAccountsIn(_List):
    type: AccountType | None = Field(default=None, description="Only accounts of this type.")
    query: str | None = Field(
        default=None,
        max_length=200,
        description="Only accounts whose code or name contains this text.",
    )


class JournalLineIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # what _one_side checks: exactly one side, above zero
            "oneOf": [
                {
                    "required": ["debit_cents"],
                    "properties": {"debit_cents": {"minimum": 1}, "credit_cents": {"const": 0}},
                },
                {
                    "required": ["credit_cents"],
                    "properties": {"credit_cents": {"minimum": 1}, "debit_cents": {"const": 0}},
                },
            ]
        },
    )

    account_id: RecordId = record_id("accounting account", "acct", required=True)
    debit_cents: int = Field(default=0, ge=0, le=10**15, description="Debit amount in cents.")
    credit_cents: int = Field(default=0, ge=0, le=10**15, description="Credit amount in cents.")
    description: str | None = Field(default=None, max_length=500, description="Line description.")

    @model_validator(mode="after")
    def _one_side(self) -> JournalLineIn:
        if (self.debit_cents > 0) == (self.credit_cents > 0):
            raise ValueError("each line needs exactly one of debit_cents or credit_cents > 0")
        return self


class JournalLinePublic(_Out):
    account_id: str
    debit_cents: int
    credit_cents: int
    description: str | None = None


class JournalEntryPublic(_Out):
    id: str
    status: EntryStatus
    entry_date: date
    memo: str | None = None
    reference: str | None = None
    total_debit_cents: int
    total_credit_cents: int
    lines: list[JournalLinePublic]
    posted_at: datetime | None = None
    created_at: datetime


class CreateJournalEntryIn(_In):
    status: EntryStatus = Field(
        default="draft", description="draft or posted; a posted entry must balance."
    )
    entry_date: date | None = Field(default=None, description="Entry date (default today, UTC).")
    memo: str | None = Field(default=None, max_length=2000, description="What the entry records.")
    reference: OneLine | None = one_line("External reference, e.g. an invoice number.", 200)
    lines: list[JournalLineIn] = Field(
        min_length=1, max_length=200, description="1-200 lines, each a debit or a credit."
    )


class ListJournalEntriesIn(_List):
    status: EntryStatus | None = Field(default=None, description="Only draft or posted entries.")
    query: str | None = Field(
        default=None,
        max_length=200,
        description="Only entries whose memo or reference contains this text.",
    )
