"""Conversation queries. Every function takes the caller's ``WorkspaceId`` and filters by it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.conversations.models import Agent, Conversation, Message, Note
from core.db import WorkspaceId
from core.pagination import (
    CURSOR_SCOPE,
    PAGE_OFFSET,
    Page,
    decode_cursor,
    encode_cursor,
    paginate,
)

_leads = sa.table("leads", sa.column("workspace_id"), sa.column("agent_id"))
"""The CRM's leads, read for one number (an agent's leads captured): a table reference,
not an import of the CRM domain."""
_memberships = sa.table(
    "memberships", sa.column("workspace_id"), sa.column("member_id"), sa.column("status")
)
"""The members domain's memberships, read to check an assignee is a member."""


async def get(
    session: AsyncSession, model: Any, ws: WorkspaceId, id_: str, *, lock: bool = False
) -> Any:
    """The workspace's ``model`` row with this id, or None; ``lock``: FOR UPDATE."""
    return await session.get(model, (ws, id_), with_for_update=lock or None)


async def list_agents(
    session: AsyncSession, ws: WorkspaceId, *, status: str | None, limit: int, cursor: str | None
) -> Page[Any]:
    stmt = select(Agent).where(Agent.workspace_id == ws)
    if status is not None:
        stmt = stmt.where(Agent.status == status)
    return await paginate(session, stmt, Agent.id, limit=limit, cursor=cursor)


async def agent_counters(
    session: AsyncSession, ws: WorkspaceId, agent_ids: Collection[str]
) -> dict[str, tuple[int, int]]:
    """``{agent id: (conversations, leads captured)}`` for these agents."""
    ids = list(agent_ids)
    if not ids:
        return {}
    conversations = dict(
        (
            await session.execute(
                select(Conversation.agent_id, sa.func.count())
                .where(Conversation.workspace_id == ws, Conversation.agent_id.in_(ids))  # type: ignore[union-attr]
                .group_by(Conversation.agent_id)
            )
        ).all()  # type: ignore[arg-type]
    )
    leads = dict(
        (
            await session.execute(
                sa.select(_leads.c.agent_id, sa.func.count())
                .where(_leads.c.workspace_id == ws, _leads.c.agent_id.in_(ids))
                .group_by(_leads.c.agent_id)
            )
        ).all()  # type: ignore[arg-type]
    )
    return {i: (int(conversations.get(i, 0)), int(leads.get(i, 0))) for i in ids}


async def is_member(session: AsyncSession, ws: WorkspaceId, member_id: str) -> bool:
    stmt = sa.select(_memberships.c.member_id).where(
        _memberships.c.workspace_id == ws,
        _memberships.c.member_id == member_id,
        _memberships.c.status == "active",
    )
    return (await session.execute(stmt)).first() is not None


async def list_conversations(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    status: str | None,
    agent_id: str | None,
    contact_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    stmt = select(Conversation).where(Conversation.workspace_id == ws)
    for column, value in (
        (Conversation.status, status),
        (Conversation.agent_id, agent_id),
        (Conversation.contact_id, contact_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Conversation.id, limit=limit, cursor=cursor)


_MESSAGE_COLUMNS = tuple(getattr(Message, a.key) for a in sa.inspect(Message).column_attrs)


async def list_messages(
    session: AsyncSession,
    ws: WorkspaceId,
    conversation_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    """The transcript, oldest first, as a keyset page (ids are time-ordered): the cursor
    is the last id seen, so the page at depth 90,000 costs what the first costs."""
    scope = f"{session.info.get(CURSOR_SCOPE, '')}|conversation_messages.id asc|{conversation_id}"
    stmt = (
        select(Message)
        .with_only_columns(*_MESSAGE_COLUMNS)
        .where(Message.workspace_id == ws, Message.conversation_id == conversation_id)
    )
    if cursor:
        stmt = stmt.where(Message.id > decode_cursor(cursor, scope))
    offset = session.info.pop(PAGE_OFFSET, 0)  # page/per_page (bounded by MAX_OFFSET)
    if offset:
        stmt = stmt.offset(offset)
    rows = list((await session.execute(stmt.order_by(Message.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id, scope) if more and rows else None)


async def list_notes(
    session: AsyncSession,
    ws: WorkspaceId,
    conversation_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    stmt = select(Note).where(Note.workspace_id == ws, Note.conversation_id == conversation_id)
    return await paginate(session, stmt, Note.id, limit=limit, cursor=cursor)


async def conversations_of_contacts(
    session: AsyncSession, ws: WorkspaceId, contact_ids: Collection[str]
) -> list[str]:
    stmt = select(Conversation.id).where(
        Conversation.workspace_id == ws,
        Conversation.contact_id.in_(list(contact_ids)),  # type: ignore[union-attr]
    )
    return list((await session.execute(stmt)).scalars())


async def message_ids(
    session: AsyncSession, ws: WorkspaceId, conversation_ids: Collection[str]
) -> list[str]:
    stmt = select(Message.id).where(
        Message.workspace_id == ws,
        Message.conversation_id.in_(list(conversation_ids)),  # type: ignore[attr-defined]
    )
    return list((await session.execute(stmt)).scalars())


async def blank(
    session: AsyncSession, ws: WorkspaceId, conversation_ids: Collection[str], text: str
) -> None:
    """Erasure: the conversations' messages and notes hold ``text``, their subjects none."""
    ids = list(conversation_ids)
    for model in (Message, Note):
        await session.execute(
            sa.update(model)
            .where(model.workspace_id == ws, model.conversation_id.in_(ids))  # type: ignore[attr-defined]
            .values(body=text)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        sa.update(Conversation)
        .where(Conversation.workspace_id == ws, Conversation.id.in_(ids))  # type: ignore[attr-defined]
        .values(subject=None)
        .execution_options(synchronize_session=False)
    )
