"""Rules for the chart of accounts and journal entries. Never commits.

A posted entry must balance (sum of debits = sum of credits, 422 ``journal_unbalanced``);
every line's account must exist in the workspace (404 ``accounting_account_not_found``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.crm import repository as repo
from core.crm.models import AccountingAccount, JournalEntry, JournalLine
from core.crm.schemas import (
    AccountPublic,
    CreateAccountIn,
    CreateJournalEntryIn,
    JournalEntryPublic,
    public_json,
)
from core.db import WorkspaceId, flush_unique, utcnow
from core.errors import Conflict, NotFound, Unprocessable
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page


async def create_account(
    session: AsyncSession, ws: WorkspaceId, data: CreateAccountIn
) -> AccountingAccount:
    taken = Conflict(
        f"An account with code '{data.code}' already exists.", code="accounting_account_exists"
    )
    if await repo.account_code_taken(session, ws, data.code):
        raise taken
    account = AccountingAccount(
        id=new_id("acct"), workspace_id=ws, created_at=utcnow(), **data.model_dump()
    )
    session.add(account)
    await flush_unique(session, taken)
    await emit(session, ws, "accounting_account.created", public_json(AccountPublic, account))
    return account


def entry_out(entry: JournalEntry, lines: list[JournalLine]) -> dict[str, Any]:
    """The public shape of an entry with its lines."""
    out = {k: getattr(entry, k) for k in JournalEntryPublic.model_fields if k != "lines"}
    out["lines"] = [
        {
            "account_id": line.account_id,
            "debit_cents": line.debit_cents,
            "credit_cents": line.credit_cents,
            "description": line.description,
        }
        for line in lines
    ]
    return out


async def list_entries(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    status: str | None,
    query: str | None,
    limit: int,
    cursor: str | None,
) -> Page[dict[str, Any]]:
    """A page of entries, each with its lines."""
    page = await repo.list_entries(
        session, ws, status=status, query=query, limit=limit, cursor=cursor
    )
    lines = await repo.lines_for(session, ws, [e.id for e in page.items])
    return Page([entry_out(e, lines[e.id]) for e in page.items], page.next_cursor)


async def create_entry(
    session: AsyncSession, ws: WorkspaceId, data: CreateJournalEntryIn
) -> dict[str, Any]:
    account_ids = {line.account_id for line in data.lines}
    missing = account_ids - await repo.existing_account_ids(session, ws, account_ids)
    if missing:
        raise NotFound("accounting_account", sorted(missing)[0])
    debits = sum(line.debit_cents for line in data.lines)
    credits = sum(line.credit_cents for line in data.lines)
    if data.status == "posted" and debits != credits:
        raise Unprocessable(
            f"A posted journal entry must balance: debits {debits} ≠ credits {credits} cents.",
            code="journal_unbalanced",
            details={"total_debit_cents": debits, "total_credit_cents": credits},
        )
    now = utcnow()
    entry = JournalEntry(
        id=new_id("je"),
        workspace_id=ws,
        status=data.status,
        entry_date=data.entry_date or now.date(),
        memo=data.memo,
        reference=data.reference,
        total_debit_cents=debits,
        total_credit_cents=credits,
        posted_at=now if data.status == "posted" else None,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    lines = [
        JournalLine(
            id=new_id("jel"),
            workspace_id=ws,
            entry_id=entry.id,
            position=i,
            account_id=line.account_id,
            debit_cents=line.debit_cents,
            credit_cents=line.credit_cents,
            description=line.description,
        )
        for i, line in enumerate(data.lines)
    ]
    session.add_all(lines)
    await session.flush()
    out = entry_out(entry, lines)
    await emit(session, ws, "journal_entry.created", public_json(JournalEntryPublic, out))
    return out
