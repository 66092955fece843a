"""CRM queries. Every function takes the caller's ``WorkspaceId`` and filters by it."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.crm.models import (
    AccountingAccount,
    Company,
    Contact,
    Deal,
    DealStage,
    Invoice,
    JournalEntry,
    JournalLine,
    Lead,
    Payment,
)
from core.db import UTCDateTime, WorkspaceId
from core.errors import NotFound
from core.pagination import Page, paginate

M = TypeVar("M")


async def require(
    session: AsyncSession,
    model: type[M],
    ws: WorkspaceId,
    id_: str,
    resource: str,
    *,
    for_update: bool = False,
) -> M:
    """The row of ``model`` with this id in the workspace; ``NotFound(resource)`` (404
    ``<resource>_not_found``) otherwise, for a foreign id too.

    ``for_update`` locks the row until commit on PostgreSQL (SQLite writers already
    hold the database write lock from BEGIN IMMEDIATE)."""
    stmt = select(model).where(model.id == id_, model.workspace_id == ws)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(resource, id_)
    return row


def _eq(stmt: Any, column: Any, value: Any) -> Any:
    return stmt if value is None else stmt.where(column == value)


def _contains(columns: list[Any], text: str | None) -> Any:
    """Substring match over a few columns of small tables (stages, accounts, entries)."""
    pattern = f"%{(text or '').lower()}%"
    return sa.or_(*(sa.func.lower(c).like(pattern) for c in columns))


async def list_contacts(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    query: str | None,
    company_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Contact]:
    stmt = select(Contact).where(Contact.workspace_id == ws)
    stmt = _eq(stmt, Contact.company_id, company_id)
    return await paginate(session, stmt, Contact.id, limit=limit, cursor=cursor, search=query)


async def list_companies(
    session: AsyncSession, ws: WorkspaceId, *, query: str | None, limit: int, cursor: str | None
) -> Page[Company]:
    stmt = select(Company).where(Company.workspace_id == ws)
    return await paginate(session, stmt, Company.id, limit=limit, cursor=cursor, search=query)


async def company_by_name(session: AsyncSession, ws: WorkspaceId, name: str) -> Company | None:
    stmt = (
        select(Company)
        .where(Company.workspace_id == ws, Company.name == name)
        .order_by(Company.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def leads_converted_to(session: AsyncSession, ws: WorkspaceId, contact_id: str) -> list[Lead]:
    """The leads that were converted into this contact."""
    stmt = select(Lead).where(Lead.workspace_id == ws, Lead.converted_contact_id == contact_id)
    return list((await session.execute(stmt)).scalars())


async def list_leads(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    query: str | None,
    status: str | None,
    source: str | None,
    custom_field_key: str | None,
    custom_field_value: str | None,
    limit: int,
    cursor: str | None,
    agent_id: str | None = None,
) -> Page[Lead]:
    stmt = select(Lead).where(Lead.workspace_id == ws)
    stmt = _eq(stmt, Lead.status, status)
    stmt = _eq(stmt, Lead.source, source)
    stmt = _eq(stmt, Lead.agent_id, agent_id)
    if custom_field_key is not None:
        value = Lead.custom_fields[custom_field_key].as_string()  # type: ignore[index]
        if custom_field_value is None:
            stmt = stmt.where(value.is_not(None))
        else:
            stmt = stmt.where(sa.cast(value, sa.String) == custom_field_value)
    return await paginate(session, stmt, Lead.id, limit=limit, cursor=cursor, search=query)


async def get_stage(session: AsyncSession, ws: WorkspaceId, stage_id: str) -> DealStage | None:
    stmt = select(DealStage).where(DealStage.workspace_id == ws, DealStage.id == stage_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def stage_by_key(session: AsyncSession, ws: WorkspaceId, key: str) -> DealStage | None:
    stmt = select(DealStage).where(DealStage.workspace_id == ws, DealStage.key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def first_stage(session: AsyncSession, ws: WorkspaceId) -> DealStage | None:
    stmt = (
        select(DealStage)
        .where(DealStage.workspace_id == ws)
        .order_by(DealStage.position, DealStage.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_stages(
    session: AsyncSession, ws: WorkspaceId, *, query: str | None, limit: int, cursor: str | None
) -> Page[DealStage]:
    stmt = select(DealStage).where(DealStage.workspace_id == ws)
    if query:
        stmt = stmt.where(_contains([DealStage.key, DealStage.name], query))
    return await paginate(session, stmt, DealStage.id, limit=limit, cursor=cursor)


async def list_deals(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    stage: str | None,
    status: str | None,
    company_id: str | None,
    contact_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Deal]:
    stmt = select(Deal).where(Deal.workspace_id == ws)
    stmt = _eq(stmt, Deal.stage, stage)
    stmt = _eq(stmt, Deal.status, status)
    stmt = _eq(stmt, Deal.company_id, company_id)
    stmt = _eq(stmt, Deal.contact_id, contact_id)
    return await paginate(session, stmt, Deal.id, limit=limit, cursor=cursor)


async def invoice_number_taken(session: AsyncSession, ws: WorkspaceId, number: str) -> bool:
    stmt = select(Invoice.id).where(Invoice.workspace_id == ws, Invoice.invoice_number == number)
    return (await session.execute(stmt)).first() is not None


async def list_invoices(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    status: str | None,
    company_id: str | None,
    contact_id: str | None,
    deal_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Invoice]:
    stmt = select(Invoice).where(Invoice.workspace_id == ws)
    stmt = _eq(stmt, Invoice.status, status)
    stmt = _eq(stmt, Invoice.company_id, company_id)
    stmt = _eq(stmt, Invoice.contact_id, contact_id)
    stmt = _eq(stmt, Invoice.deal_id, deal_id)
    return await paginate(session, stmt, Invoice.id, limit=limit, cursor=cursor)


async def apply_payment(
    session: AsyncSession, ws: WorkspaceId, invoice: Invoice, amount: int, now: Any
) -> bool:
    """Atomically add ``amount`` to the invoice's paid total if the open balance covers it.

    One conditional UPDATE: concurrent payments serialise on the row and the
    ``balance_cents >= amount`` guard is re-checked against the committed value, so
    no interleaving can overpay. Returns False when the guard failed. Either way
    ``invoice`` is re-read afterwards (its status, paid total and balance as they now are).
    """
    new_balance = Invoice.balance_cents - amount
    stmt = (
        sa.update(Invoice)
        .where(
            Invoice.id == invoice.id,
            Invoice.workspace_id == ws,
            Invoice.status != "void",
            Invoice.balance_cents >= amount,
        )
        .values(
            amount_paid_cents=Invoice.amount_paid_cents + amount,
            balance_cents=new_balance,
            status=sa.case((new_balance == 0, "paid"), else_="partially_paid"),
            paid_at=sa.case((new_balance == 0, sa.literal(now, UTCDateTime())), else_=sa.null()),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    applied = result.rowcount == 1  # type: ignore[attr-defined]
    await session.refresh(invoice)
    return applied


async def list_payments(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    invoice_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Payment]:
    stmt = _eq(select(Payment).where(Payment.workspace_id == ws), Payment.invoice_id, invoice_id)
    return await paginate(session, stmt, Payment.id, limit=limit, cursor=cursor)


async def account_code_taken(session: AsyncSession, ws: WorkspaceId, code: str) -> bool:
    stmt = select(AccountingAccount.id).where(
        AccountingAccount.workspace_id == ws, AccountingAccount.code == code
    )
    return (await session.execute(stmt)).first() is not None


async def existing_account_ids(session: AsyncSession, ws: WorkspaceId, ids: set[str]) -> set[str]:
    stmt = select(AccountingAccount.id).where(
        AccountingAccount.workspace_id == ws,
        AccountingAccount.id.in_(ids),  # type: ignore[attr-defined]
    )
    return set((await session.execute(stmt)).scalars())


async def list_accounts(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    type_: str | None,
    query: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AccountingAccount]:
    stmt = _eq(
        select(AccountingAccount).where(AccountingAccount.workspace_id == ws),
        AccountingAccount.type,
        type_,
    )
    if query:
        stmt = stmt.where(_contains([AccountingAccount.code, AccountingAccount.name], query))
    return await paginate(session, stmt, AccountingAccount.id, limit=limit, cursor=cursor)


async def list_entries(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    status: str | None,
    query: str | None,
    limit: int,
    cursor: str | None,
) -> Page[JournalEntry]:
    stmt = _eq(
        select(JournalEntry).where(JournalEntry.workspace_id == ws), JournalEntry.status, status
    )
    if query:
        stmt = stmt.where(_contains([JournalEntry.memo, JournalEntry.reference], query))
    return await paginate(session, stmt, JournalEntry.id, limit=limit, cursor=cursor)


async def lines_for(
    session: AsyncSession, ws: WorkspaceId, entry_ids: list[str]
) -> dict[str, list[JournalLine]]:
    """Lines of these entries, grouped by entry id, in position order."""
    out: dict[str, list[JournalLine]] = {i: [] for i in entry_ids}
    if not entry_ids:
        return out
    stmt = (
        select(JournalLine)
        .where(JournalLine.workspace_id == ws, JournalLine.entry_id.in_(entry_ids))  # type: ignore[attr-defined]
        .order_by(JournalLine.entry_id, JournalLine.position)
    )
    for line in (await session.execute(stmt)).scalars():
        out[line.entry_id].append(line)
    return out
