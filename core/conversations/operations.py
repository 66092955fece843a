"""Conversation operations (scopes ``conversations:read`` / ``conversations:write``;
creating and changing agents needs ``workspace:admin``; toolset ``conversations``)."""

from __future__ import annotations

from typing import Any

from core.conversations import service
from core.conversations.models import Conversation, Message, Note
from core.conversations.schemas import (
    AgentIdIn,
    AgentPublic,
    ConversationIdIn,
    ConversationPublic,
    CreateAgentIn,
    CreateConversationIn,
    CreateMessageIn,
    CreateNoteIn,
    ListAgentsIn,
    ListConversationsIn,
    ListMessagesIn,
    ListNotesIn,
    MessagePublic,
    NotePublic,
    UpdateAgentIn,
    UpdateConversationIn,
)
from core.conversations.service import ConversationClosed
from core.errors import NotFound, Unprocessable, ValidationFailed
from core.operations import Context, Declare, Toolset
from core.pagination import Page

ERRORS = (NotFound, ValidationFailed, Unprocessable)
conversations = Declare(
    scope="conversations", toolset="conversations", writes_emit_events=True, errors=ERRORS
)
admin = Declare(
    scope="conversations", toolset="conversations", write_scope="workspace:admin", errors=ERRORS
)


async def list_agents(ctx: Context, a: ListAgentsIn) -> Page[Any]:
    return await service.list_agents(ctx.session, ctx.workspace_id, a)


async def get_agent(ctx: Context, a: AgentIdIn) -> Any:
    return await service.get_agent(ctx.session, ctx.workspace_id, a.agent_id)


async def create_agent(ctx: Context, a: CreateAgentIn) -> Any:
    agent = await service.create_agent(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = agent["id"]
    return agent


async def update_agent(ctx: Context, a: UpdateAgentIn) -> Any:
    ctx.resource_id = a.agent_id
    return await service.update_agent(ctx.session, ctx.workspace_id, a)


async def list_conversations(ctx: Context, a: ListConversationsIn) -> Page[Any]:
    return await service.list_conversations(ctx.session, ctx.workspace_id, a)


async def get_conversation(ctx: Context, a: ConversationIdIn) -> Conversation:
    return await service.get_conversation(ctx.session, ctx.workspace_id, a.conversation_id)


async def create_conversation(ctx: Context, a: CreateConversationIn) -> Conversation:
    conversation = await service.create_conversation(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = conversation.id
    return conversation


async def update_conversation(ctx: Context, a: UpdateConversationIn) -> Conversation:
    ctx.resource_id = a.conversation_id
    return await service.update_conversation(ctx.session, ctx.workspace_id, a)


async def list_messages(ctx: Context, a: ListMessagesIn) -> Page[Any]:
    return await service.list_messages(
        ctx.session, ctx.workspace_id, a.conversation_id, limit=a.limit, cursor=a.cursor
    )


async def create_message(ctx: Context, a: CreateMessageIn) -> Message:
    message = await service.create_message(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = message.id
    return message


async def list_notes(ctx: Context, a: ListNotesIn) -> Page[Any]:
    return await service.list_notes(
        ctx.session, ctx.workspace_id, a.conversation_id, limit=a.limit, cursor=a.cursor
    )


async def create_note(ctx: Context, a: CreateNoteIn) -> Note:
    note = await service.create_note(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = note.id
    return note


CONVERSATION = "/conversations/{conversation_id}"
CLOSED = (NotFound, ValidationFailed, Unprocessable, ConversationClosed)

OPERATIONS = [
    admin.list(
        "list_agents",
        "/agents",
        list_agents,
        ListAgentsIn,
        AgentPublic,
        summary="List agents",
        description="The workspace's AI agents, newest first, by status, with their counters.",
    ),
    admin.get(
        "get_agent",
        "/agents/{agent_id}",
        get_agent,
        AgentIdIn,
        AgentPublic,
        summary="Get an agent",
        description="One agent, with its conversation and lead counts.",
    ),
    admin.create(
        "create_agent",
        "/agents",
        create_agent,
        CreateAgentIn,
        AgentPublic,
        summary="Create an agent",
        description="Add an AI agent (workspace:admin): its site and knowledge collection.",
    ),
    admin.update(
        "update_agent",
        "/agents/{agent_id}",
        update_agent,
        UpdateAgentIn,
        AgentPublic,
        summary="Update an agent",
        description="Rename, (de)activate or repoint an agent (workspace:admin).",
    ),
    conversations.list(
        "list_conversations",
        "/conversations",
        list_conversations,
        ListConversationsIn,
        ConversationPublic,
        summary="List conversations",
        description="Conversations, newest first, by status, agent_id or contact_id.",
    ),
    conversations.get(
        "get_conversation",
        CONVERSATION,
        get_conversation,
        ConversationIdIn,
        ConversationPublic,
        summary="Get a conversation",
        description="One conversation: status, assignee, counters.",
    ),
    conversations.create(
        "create_conversation",
        "/conversations",
        create_conversation,
        CreateConversationIn,
        ConversationPublic,
        summary="Start a conversation",
        description="Open a conversation with a contact on a channel, optionally assigned.",
    ),
    conversations.update(
        "update_conversation",
        CONVERSATION,
        update_conversation,
        UpdateConversationIn,
        ConversationPublic,
        summary="Update a conversation",
        errors=CLOSED,
        description=(
            "Change status (active, escalated, closed), subject or assignee. A closed one "
            "answers 409 conversation_closed to assignment until its status is set to active."
        ),
    ),
    conversations.list(
        "list_messages",
        CONVERSATION + "/messages",
        list_messages,
        ListMessagesIn,
        MessagePublic,
        summary="List a conversation's messages",
        description="The transcript, oldest first (internal notes are never in it).",
        errors=(NotFound,),
    ),
    conversations.create(
        "create_message",
        CONVERSATION + "/messages",
        create_message,
        CreateMessageIn,
        MessagePublic,
        summary="Post a message",
        errors=CLOSED,
        description="Append a message by the contact, an agent, a member or the system; "
        "409 conversation_closed on a closed conversation.",
    ),
    conversations.list(
        "list_notes",
        CONVERSATION + "/notes",
        list_notes,
        ListNotesIn,
        NotePublic,
        summary="List internal notes",
        description="A conversation's internal notes, newest first; never shown to the contact.",
        errors=(NotFound,),
    ),
    conversations.create(
        "create_note",
        CONVERSATION + "/notes",
        create_note,
        CreateNoteIn,
        NotePublic,
        summary="Add an internal note",
        open_world=False,
        description="Add a note for the team on a conversation; the contact never sees it.",
    ),
]

TOOLSETS = (Toolset("conversations", "Agents, conversations, transcripts and internal notes."),)
