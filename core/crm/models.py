"""CRM tables: companies, contacts, leads, deal stages, deals, invoices, payments,
accounting accounts, journal entries and their lines.

``search_text`` columns are maintained by the service (core/search.py explains the index).
Public shapes live in ``core.crm.schemas``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_fk, tenant_pk, workspace_fk


def _ts() -> Any:
    return Field(sa_type=UTCDateTime)


def _ref() -> Any:
    """An optional link to another record of the workspace (its ``tenant_fk`` is declared
    in ``__table_args__``; deleting the target clears the link in the service)."""
    return Field(default=None, max_length=40)


class Company(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "companies"
    __table_args__ = (
        tenant_pk("companies"),
        sa.Index("ix_companies_workspace_id_name", "workspace_id", "name"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    domain: str | None = Field(default=None, max_length=255)
    website: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=50)
    industry: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=10_000)
    search_text: str = Field(default="", max_length=12_000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Contact(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "contacts"
    __table_args__ = (
        tenant_pk("contacts"),
        tenant_fk("contacts", "company_id", "companies"),
        sa.Index("ix_contacts_workspace_id_company_id_id", "workspace_id", "company_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    title: str | None = Field(default=None, max_length=200)
    company_id: str | None = _ref()
    company_name: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=10_000)
    search_text: str = Field(default="", max_length=12_000)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Lead(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        tenant_pk("leads"),
        tenant_fk("leads", "converted_contact_id", "contacts"),
        tenant_fk("leads", "converted_company_id", "companies"),
        tenant_fk("leads", "converted_deal_id", "deals"),
        tenant_fk("leads", "agent_id", "agents"),
        sa.Index("ix_leads_workspace_id_status_id", "workspace_id", "status", "id"),
        sa.Index("ix_leads_workspace_id_agent_id_id", "workspace_id", "agent_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    title: str | None = Field(default=None, max_length=200)
    company_name: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=20)
    source: str = Field(max_length=20)
    notes: str | None = Field(default=None, max_length=10_000)
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    converted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    converted_contact_id: str | None = _ref()
    converted_company_id: str | None = _ref()
    converted_deal_id: str | None = _ref()
    agent_id: str | None = _ref()
    """The AI agent that captured the lead (the conversations domain's ``agents``)."""
    search_text: str = Field(default="", max_length=12_000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class DealStage(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "deal_stages"
    __table_args__ = (
        tenant_pk("deal_stages"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_deal_stages_workspace_id_key"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    key: str = Field(max_length=60)
    name: str = Field(max_length=120)
    position: int = 0
    created_at: datetime = _ts()


class Deal(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "deals"
    __table_args__ = (
        tenant_pk("deals"),
        tenant_fk("deals", "company_id", "companies"),
        tenant_fk("deals", "contact_id", "contacts"),
        sa.Index("ix_deals_workspace_id_stage_id", "workspace_id", "stage", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    stage: str | None = Field(default=None, max_length=60)
    status: str = Field(max_length=10)
    amount_cents: int = Field(default=0, sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    company_id: str | None = _ref()
    contact_id: str | None = _ref()
    lead_id: str | None = Field(default=None, max_length=40)
    expected_close_date: date | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Invoice(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "invoice_number", name="uq_invoices_workspace_id_invoice_number"
        ),
        tenant_pk("invoices"),
        tenant_fk("invoices", "company_id", "companies"),
        tenant_fk("invoices", "contact_id", "contacts"),
        tenant_fk("invoices", "deal_id", "deals"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    invoice_number: str = Field(max_length=60)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    company_id: str | None = _ref()
    contact_id: str | None = _ref()
    deal_id: str | None = _ref()
    line_items: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    subtotal_cents: int = Field(default=0, sa_type=sa.BigInteger)
    tax_cents: int = Field(default=0, sa_type=sa.BigInteger)
    total_cents: int = Field(default=0, sa_type=sa.BigInteger)
    amount_paid_cents: int = Field(default=0, sa_type=sa.BigInteger)
    balance_cents: int = Field(default=0, sa_type=sa.BigInteger)
    issue_date: date | None = None
    due_date: date | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Payment(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        tenant_pk("payments"),
        tenant_fk("payments", "invoice_id", "invoices", ondelete="CASCADE"),
        sa.Index("ix_payments_workspace_id_invoice_id_id", "workspace_id", "invoice_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    invoice_id: str = Field(max_length=40)
    amount_cents: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    method: str = Field(max_length=20)
    reference: str | None = Field(default=None, max_length=200)
    paid_at: datetime = _ts()
    created_at: datetime = _ts()


class AccountingAccount(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "accounting_accounts"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "code", name="uq_accounting_accounts_workspace_id_code"
        ),
        tenant_pk("accounting_accounts"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    code: str = Field(max_length=30)
    name: str = Field(max_length=200)
    type: str = Field(max_length=20)
    description: str | None = Field(default=None, max_length=2_000)
    created_at: datetime = _ts()


class JournalEntry(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "journal_entries"
    __table_args__ = (tenant_pk("journal_entries"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    status: str = Field(max_length=10)
    entry_date: date
    memo: str | None = Field(default=None, max_length=2_000)
    reference: str | None = Field(default=None, max_length=200)
    total_debit_cents: int = Field(default=0, sa_type=sa.BigInteger)
    total_credit_cents: int = Field(default=0, sa_type=sa.BigInteger)
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()


class JournalLine(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "journal_lines"
    __table_args__ = (
        tenant_pk("journal_lines"),
        tenant_fk("journal_lines", "entry_id", "journal_entries", ondelete="CASCADE"),
        tenant_fk("journal_lines", "account_id", "accounting_accounts"),
        sa.Index("ix_journal_lines_workspace_id_entry_id", "workspace_id", "entry_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    entry_id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    position: int
    debit_cents: int = Field(default=0, sa_type=sa.BigInteger)
    credit_cents: int = Field(default=0, sa_type=sa.BigInteger)
    description: str | None = Field(default=None, max_length=500)
