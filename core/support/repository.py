"""Support queries. Every function takes the caller's ``WorkspaceId`` and filters by it;
every list filter is a SQL condition (nothing is filtered in Python)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.errors import NotFound
from core.pagination import Page, paginate
from core.support.models import (
    SupportQueue,
    SupportSlaCheck,
    SupportTicket,
)

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
    """The row of ``model`` with this id in the workspace; 404 ``<resource>_not_found``
    otherwise (a foreign id too). ``for_update`` locks it until commit (PostgreSQL)."""
    stmt = select(model).where(model.id == id_, model.workspace_id == ws)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(resource, id_)
    return row


async def exists(session: AsyncSession, model: Any, ws: WorkspaceId, id_: str) -> bool:
    stmt = select(model.id).where(model.id == id_, model.workspace_id == ws)
    return (await session.execute(stmt)).first() is not None


def _eq(stmt: Any, column: Any, value: Any) -> Any:
    return stmt if value is None else stmt.where(column == value)


def _custom_field(stmt: Any, column: Any, key: str | None, value: str | None) -> Any:
    """``custom_field_key`` (set at all) and ``custom_field_value`` (equal, as text)."""
    if key is None:
        return stmt
    field = column[key].as_string()
    if value is None:
        return stmt.where(field.is_not(None))
    return stmt.where(sa.cast(field, sa.String) == value)


def _contains(columns: list[Any], text: str | None) -> Any:
    """Case-insensitive substring over a few columns (queues, one ticket's thread)."""
    escaped = (text or "").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return sa.or_(*(sa.func.lower(c).like(pattern, escape="\\") for c in columns))


async def queue_by_key(session: AsyncSession, ws: WorkspaceId, key: str) -> SupportQueue | None:
    stmt = select(SupportQueue).where(SupportQueue.workspace_id == ws, SupportQueue.key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_queues(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    query: str | None,
    status: str | None,
    custom_field_key: str | None,
    custom_field_value: str | None,
    limit: int,
    cursor: str | None,
) -> Page[SupportQueue]:
    stmt = select(SupportQueue).where(SupportQueue.workspace_id == ws)
    stmt = _eq(stmt, SupportQueue.status, status)
    stmt = _custom_field(stmt, SupportQueue.custom_fields, custom_field_key, custom_field_value)
    if query:
        stmt = stmt.where(_contains([SupportQueue.key, SupportQueue.name], query))
    return await paginate(session, stmt, SupportQueue.id, limit=limit, cursor=cursor)


def breached_condition(now: datetime, breached: bool) -> Any:
    """The first-response SLA was missed: marked (a late reply, or the worker's check), or
    the deadline passed without a reply and the worker has not got to it yet. (Written out
    both ways: NOT of a condition over NULL columns would drop rows with no deadline.)"""
    t = SupportTicket
    due = t.first_response_due_at
    if breached:
        return sa.or_(
            t.sla_breached_at.is_not(None),  # type: ignore[union-attr]
            sa.and_(t.first_responded_at.is_(None), due <= now),  # type: ignore[union-attr,operator]
        )
    return sa.and_(
        t.sla_breached_at.is_(None),  # type: ignore[union-attr]
        sa.or_(t.first_responded_at.is_not(None), due.is_(None), due > now),  # type: ignore[union-attr,operator]
    )


async def list_tickets(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    equal: dict[str, Any],
    query: str | None,
    breached: bool | None,
    now: datetime,
    custom_field_key: str | None,
    custom_field_value: str | None,
    limit: int,
    cursor: str | None,
) -> Page[SupportTicket]:
    """Tickets matching every filter given, newest first; ``equal``: column → value."""
    stmt = select(SupportTicket).where(SupportTicket.workspace_id == ws)
    for column, value in equal.items():
        stmt = _eq(stmt, getattr(SupportTicket, column), value)
    stmt = _custom_field(stmt, SupportTicket.custom_fields, custom_field_key, custom_field_value)
    if breached is not None:
        stmt = stmt.where(breached_condition(now, breached))
    return await paginate(session, stmt, SupportTicket.id, limit=limit, cursor=cursor, search=query)


async def list_thread(
    session: AsyncSession,
    model: Any,
    ws: WorkspaceId,
    ticket_id: str,
    *,
    equal: dict[str, Any],
    query: str | None,
    custom_field_key: str | None,
    custom_field_value: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    """A ticket's messages or comments, newest first."""
    stmt = select(model).where(model.workspace_id == ws, model.ticket_id == ticket_id)
    for column, value in equal.items():
        stmt = _eq(stmt, getattr(model, column), value)
    stmt = _custom_field(stmt, model.custom_fields, custom_field_key, custom_field_value)
    if query:
        stmt = stmt.where(_contains([model.body], query))
    return await paginate(session, stmt, model.id, limit=limit, cursor=cursor)


async def sla_check(
    session: AsyncSession, ws: WorkspaceId, ticket_id: str
) -> SupportSlaCheck | None:
    stmt = select(SupportSlaCheck).where(
        SupportSlaCheck.workspace_id == ws, SupportSlaCheck.ticket_id == ticket_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def tickets_linked_to(
    session: AsyncSession, ws: WorkspaceId, *, contacts: Collection[str], leads: Collection[str]
) -> list[str]:
    """Ids of the tickets linked to one of these contacts or leads."""
    conditions = []
    if contacts:
        conditions.append(SupportTicket.contact_id.in_(list(contacts)))  # type: ignore[union-attr]
    if leads:
        conditions.append(SupportTicket.lead_id.in_(list(leads)))  # type: ignore[union-attr]
    if not conditions:
        return []
    stmt = select(SupportTicket.id).where(SupportTicket.workspace_id == ws, sa.or_(*conditions))
    return list((await session.execute(stmt)).scalars())


async def thread_ids(
    session: AsyncSession, model: Any, ws: WorkspaceId, ticket_ids: Collection[str]
) -> list[str]:
    stmt = select(model.id).where(model.workspace_id == ws, model.ticket_id.in_(list(ticket_ids)))
    return list((await session.execute(stmt)).scalars())


async def set_many(
    session: AsyncSession, model: Any, ws: WorkspaceId, ids: Collection[str], **values: Any
) -> None:
    await session.execute(
        sa.update(model)
        .where(model.workspace_id == ws, model.id.in_(list(ids)))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )


async def set_thread(
    session: AsyncSession, model: Any, ws: WorkspaceId, ticket_ids: Collection[str], **values: Any
) -> None:
    await session.execute(
        sa.update(model)
        .where(model.workspace_id == ws, model.ticket_id.in_(list(ticket_ids)))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
