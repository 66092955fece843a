"""Conversation rules. Never commits.

- An agent is ``active`` or ``inactive``; it may answer from one knowledge collection
  (checked in the workspace through the platform's record types, not an import).
- A conversation is ``active``, ``escalated`` or ``closed``. A closed conversation takes
  no message and no assignment (409 ``conversation_closed``); it is reopened only by an
  explicit status change to ``active`` (which may come with an assignment in the same
  request). Every status change is a ``conversation.status_changed`` event.
- Messages are the transcript the contact sees; notes are internal and live apart (no
  message list, event or export of the transcript carries one).
- Erasing a contact blanks the text of its conversations (messages, notes, subject) and
  scrubs their event copies.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations import repository
from core.conversations.models import Agent, Conversation, Message, Note
from core.conversations.schemas import (
    ConversationPublic,
    CreateAgentIn,
    CreateConversationIn,
    CreateMessageIn,
    CreateNoteIn,
    ListAgentsIn,
    ListConversationsIn,
    MessagePublic,
    UpdateAgentIn,
    UpdateConversationIn,
)
from core.db import WorkspaceId, utcnow
from core.erasure import ERASED_TEXT, scrub_copies
from core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page
from core.platform import platform_of
from core.related import check_related

CHECK_AGENT = "check_agent"
"""Capability: ``(session, workspace, agent id)``, 404 ``agent_not_found`` unless the
workspace has the agent (the CRM checks a lead's ``agent_id`` with it)."""
CHECK_COLLECTION = "check_knowledge_collection"
"""The knowledge domain's capability checking a collection id in the workspace."""

CONVERSATION_EVENTS = ("conversation.created", "conversation.status_changed")
MESSAGE_EVENTS = ("message.created",)


class ConversationClosed(Conflict):
    code = "conversation_closed"
    default_message = "The conversation is closed: reopen it first (PATCH its status to active)."


SITE_URL = re.compile(r"^https?://\S+$")


def _check_site_url(url: str | None) -> None:
    if url is not None and not SITE_URL.match(url):
        raise Unprocessable("site_url must be an http or https URL.", code="invalid_site_url")


def _check_assignee_pair(type_: str | None, id_: str | None, *, sent: bool = True) -> None:
    if not sent or (type_ is None) != (id_ is None):
        raise Unprocessable(
            "assignee_type and assignee_id go together; both null unassigns.",
            code="assignee_incomplete",
        )


def _json(shape: Any, row: Any) -> dict[str, Any]:
    return shape.model_validate(row).model_dump(mode="json", exclude_none=True)


async def _require(
    session: AsyncSession, model: Any, ws: WorkspaceId, id_: str, what: str, *, lock: bool = False
) -> Any:
    row = await repository.get(session, model, ws, id_, lock=lock)
    if row is None:
        raise NotFound(what, id_)
    return row


# ---------------------------------------------------------------- agents


async def _with_counters(session: AsyncSession, ws: WorkspaceId, rows: list[Any]) -> list[dict]:
    counters = await repository.agent_counters(session, ws, [r.id for r in rows])
    out = []
    for row in rows:
        values = {a.key: getattr(row, a.key) for a in sa.inspect(Agent).column_attrs}
        values["conversation_count"], values["leads_captured"] = counters[row.id]
        out.append(values)
    return out


async def list_agents(session: AsyncSession, ws: WorkspaceId, a: ListAgentsIn) -> Page[dict]:
    page = await repository.list_agents(
        session, ws, status=a.status, limit=a.limit, cursor=a.cursor
    )
    return Page(await _with_counters(session, ws, page.items), page.next_cursor)


async def get_agent(session: AsyncSession, ws: WorkspaceId, agent_id: str) -> dict:
    agent = await _require(session, Agent, ws, agent_id, "agent")
    return (await _with_counters(session, ws, [agent]))[0]


async def _check_collection(session: AsyncSession, ws: WorkspaceId, collection_id: str) -> None:
    check = platform_of(session).capability(CHECK_COLLECTION)
    if check is None:  # no knowledge domain: no collection can exist
        raise NotFound("collection", collection_id)
    await check(session, ws, collection_id)


async def create_agent(session: AsyncSession, ws: WorkspaceId, a: CreateAgentIn) -> dict:
    _check_site_url(a.site_url)
    if a.collection_id is not None:
        await _check_collection(session, ws, a.collection_id)
    now = utcnow()
    agent = Agent(
        id=new_id("agt"), workspace_id=ws, created_at=now, updated_at=now, **a.model_dump()
    )
    session.add(agent)
    await session.flush()
    return (await _with_counters(session, ws, [agent]))[0]


async def update_agent(session: AsyncSession, ws: WorkspaceId, a: UpdateAgentIn) -> dict:
    agent = await _require(session, Agent, ws, a.agent_id, "agent")
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "agent_id"}
    for key in ("name", "status"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    _check_site_url(changes.get("site_url"))
    if changes.get("collection_id") is not None:
        await _check_collection(session, ws, changes["collection_id"])
    for key, value in changes.items():
        setattr(agent, key, value)
    agent.updated_at = utcnow()
    await session.flush()
    return (await _with_counters(session, ws, [agent]))[0]


async def check_agent(session: AsyncSession, ws: WorkspaceId, agent_id: str) -> None:
    await _require(session, Agent, ws, agent_id, "agent")


# ---------------------------------------------------------------- conversations


async def get_conversation(
    session: AsyncSession, ws: WorkspaceId, conversation_id: str, *, lock: bool = False
) -> Conversation:
    return await _require(session, Conversation, ws, conversation_id, "conversation", lock=lock)


async def list_conversations(
    session: AsyncSession, ws: WorkspaceId, a: ListConversationsIn
) -> Page[Any]:
    return await repository.list_conversations(
        session,
        ws,
        status=a.status,
        agent_id=a.agent_id,
        contact_id=a.contact_id,
        limit=a.limit,
        cursor=a.cursor,
    )


async def _assignment(
    session: AsyncSession, ws: WorkspaceId, type_: str | None, id_: str | None
) -> dict[str, str | None]:
    """The assignment columns for ``(type_, id_)`` (both None: unassigned), checked."""
    if type_ == "agent" and id_ is not None:
        await check_agent(session, ws, id_)
        return {"assigned_agent_id": id_, "assigned_member_id": None}
    if type_ == "member" and id_ is not None:
        if not await repository.is_member(session, ws, id_):
            raise NotFound("member", id_)
        return {"assigned_member_id": id_, "assigned_agent_id": None}
    return {"assigned_member_id": None, "assigned_agent_id": None}


async def create_conversation(
    session: AsyncSession, ws: WorkspaceId, a: CreateConversationIn
) -> Conversation:
    _check_assignee_pair(a.assignee_type, a.assignee_id)
    if a.agent_id is not None:
        await check_agent(session, ws, a.agent_id)
    if a.contact_id is not None:
        await check_related(session, ws, "contact", a.contact_id)  # a CRM record type
    assignment = await _assignment(session, ws, a.assignee_type, a.assignee_id)
    now = utcnow()
    conversation = Conversation(
        id=new_id("conv"),
        workspace_id=ws,
        agent_id=a.agent_id,
        contact_id=a.contact_id,
        channel=a.channel,
        status=a.status,
        subject=a.subject,
        created_at=now,
        updated_at=now,
        **assignment,
    )
    session.add(conversation)
    await session.flush()
    await emit(session, ws, "conversation.created", _json(ConversationPublic, conversation))
    return conversation


async def update_conversation(
    session: AsyncSession, ws: WorkspaceId, a: UpdateConversationIn
) -> Conversation:
    """Status, subject and assignment. Row-locked, so a concurrent close and assignment
    (or message) cannot both succeed."""
    conversation = await get_conversation(session, ws, a.conversation_id, lock=True)
    sent = a.model_fields_set
    if "assignee_type" in sent or "assignee_id" in sent:
        _check_assignee_pair(
            a.assignee_type, a.assignee_id, sent={"assignee_type", "assignee_id"} <= sent
        )
    before = conversation.status
    status = a.status if "status" in sent and a.status is not None else before
    if before == "closed" and status != "active" and ("assignee_type" in sent or status != before):
        raise ConversationClosed()
    now = utcnow()
    if "assignee_type" in sent:
        if status == "closed":
            raise ConversationClosed("A conversation being closed cannot be assigned.")
        for key, value in (await _assignment(session, ws, a.assignee_type, a.assignee_id)).items():
            setattr(conversation, key, value)
    if "subject" in sent:
        conversation.subject = a.subject
    if status != before:
        conversation.status = status
        conversation.closed_at = now if status == "closed" else None
    conversation.updated_at = now
    await session.flush()
    if status != before:
        await emit(
            session,
            ws,
            "conversation.status_changed",
            {**_json(ConversationPublic, conversation), "previous_status": before},
        )
    return conversation


# ---------------------------------------------------------------- messages and notes


async def list_messages(
    session: AsyncSession,
    ws: WorkspaceId,
    conversation_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    await get_conversation(session, ws, conversation_id)
    return await repository.list_messages(session, ws, conversation_id, limit=limit, cursor=cursor)


async def _author(
    session: AsyncSession, ws: WorkspaceId, conversation: Conversation, a: CreateMessageIn
) -> str | None:
    """The author id of a message, checked against who may write in the conversation."""
    if a.author_type == "system":
        if a.author_id is not None:
            raise ValidationFailed("A system message has no author_id.")
        return None
    if a.author_type == "contact":
        if a.author_id is not None and a.author_id != conversation.contact_id:
            raise ValidationFailed("author_id must be the conversation's contact.")
        return conversation.contact_id
    if a.author_type == "agent":
        agent_id = a.author_id or conversation.agent_id
        if agent_id is None:
            raise ValidationFailed("author_id is required: the conversation has no agent.")
        await check_agent(session, ws, agent_id)
        return agent_id
    if a.author_id is None:
        raise ValidationFailed("author_id is required for a member's message.")
    if not await repository.is_member(session, ws, a.author_id):
        raise NotFound("member", a.author_id)
    return a.author_id


async def create_message(session: AsyncSession, ws: WorkspaceId, a: CreateMessageIn) -> Message:
    conversation = await get_conversation(session, ws, a.conversation_id, lock=True)
    if conversation.status == "closed":
        raise ConversationClosed()
    author_id = await _author(session, ws, conversation, a)
    now = utcnow()
    message = Message(
        id=new_id("msg"),
        workspace_id=ws,
        conversation_id=conversation.id,
        author_type=a.author_type,
        author_id=author_id,
        body=a.body,
        created_at=now,
    )
    session.add(message)
    conversation.message_count += 1
    conversation.last_message_at = now
    conversation.updated_at = now
    await session.flush()
    await emit(session, ws, "message.created", _json(MessagePublic, message))
    return message


async def list_notes(
    session: AsyncSession,
    ws: WorkspaceId,
    conversation_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    await get_conversation(session, ws, conversation_id)
    return await repository.list_notes(session, ws, conversation_id, limit=limit, cursor=cursor)


async def create_note(session: AsyncSession, ws: WorkspaceId, a: CreateNoteIn) -> Note:
    """An internal note: allowed on a closed conversation too; no event (events reach
    webhook receivers, and a note is for the team only)."""
    conversation = await get_conversation(session, ws, a.conversation_id)
    note = Note(
        id=new_id("note"),
        workspace_id=ws,
        conversation_id=conversation.id,
        author=a.author,
        body=a.body,
        created_at=utcnow(),
    )
    session.add(note)
    await session.flush()
    return note


# ---------------------------------------------------------------- erasure


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Erasure hook: the erased contact's conversations lose their text (every message,
    note and the subject), and their events and replays become stubs."""
    contacts = list(records.get("contact", ()))
    if not contacts:
        return 0
    conversations = await repository.conversations_of_contacts(session, ws, contacts)
    if not conversations:
        return 0
    messages = await repository.message_ids(session, ws, conversations)
    await repository.blank(session, ws, conversations, ERASED_TEXT)
    await scrub_copies(session, ws, conversations, event_types=CONVERSATION_EVENTS)
    await scrub_copies(session, ws, messages, event_types=MESSAGE_EVENTS)
    return len(conversations)
