"""Conversation inputs and public shapes (descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.fields import OneLine, RecordId, one_line, record_id
from core.pagination import ListParams, PagedListParams

AgentStatus = Literal["active", "inactive"]
ConversationStatus = Literal["active", "closed", "escalated"]
Channel = Literal["chat", "email", "phone", "sms", "whatsapp", "web", "api"]
AuthorType = Literal["contact", "agent", "member", "system"]
AssigneeType = Literal["member", "agent"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---------------------------------------------------------------- agents


class AgentPublic(_Out):
    id: str
    name: str
    status: AgentStatus
    site_url: str | None = None
    collection_id: str | None = None
    description: str | None = None
    conversation_count: int = 0
    leads_captured: int = 0
    created_at: datetime
    updated_at: datetime


class ListAgentsIn(PagedListParams):  # 000 pages with page/per_page
    model_config = ConfigDict(extra="forbid")

    status: AgentStatus | None = Field(default=None, description="Only agents with this status.")


class AgentFields(_In):
    site_url: OneLine | None = Field(
        default=None,
        max_length=2_000,
        description="Site its knowledge is crawled from (http/https).",
    )
    collection_id: RecordId | None = record_id("knowledge collection it answers from", "kcol")
    description: str | None = Field(default=None, max_length=2_000, description="What it does.")


class CreateAgentIn(AgentFields):
    name: OneLine = one_line("Agent name.", 200, required=True)
    status: AgentStatus = Field(default="active", description="Initial status.")


class UpdateAgentIn(AgentFields):
    agent_id: RecordId = record_id("agent", "agt", required=True)
    name: OneLine | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    status: AgentStatus | None = Field(default=None, description="New status.")


class AgentIdIn(_In):
    agent_id: RecordId = record_id("agent", "agt", required=True)


# ---------------------------------------------------------------- conversations


class ConversationPublic(_Out):
    id: str
    agent_id: str | None = None
    contact_id: str | None = None
    channel: Channel
    status: ConversationStatus
    subject: str | None = None
    assignee_type: AssigneeType | None = None
    assignee_id: str | None = None
    message_count: int
    last_message_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _assignee(cls, value: object) -> object:
        member = getattr(value, "assigned_member_id", None)
        agent = getattr(value, "assigned_agent_id", None)
        if member is None and agent is None:
            return value
        fields = {k: getattr(value, k) for k in cls.model_fields if hasattr(value, k)}
        fields["assignee_type"] = "member" if member else "agent"
        fields["assignee_id"] = member or agent
        return fields


class ListConversationsIn(PagedListParams):  # 000 pages with page/per_page
    model_config = ConfigDict(extra="forbid")

    status: ConversationStatus | None = Field(default=None, description="Only this status.")
    agent_id: RecordId | None = record_id("agent whose conversations to list", "agt")
    contact_id: RecordId | None = record_id("contact whose conversations to list", "con")


ASSIGNEE = "assignee_type and assignee_id go together; both null unassigns."


class CreateConversationIn(_In):
    channel: Channel = Field(default="chat", description="Where it happens.")
    agent_id: RecordId | None = record_id("agent holding it", "agt")
    contact_id: RecordId | None = record_id("contact it is with", "con")
    subject: OneLine | None = one_line("Subject.", 300)
    status: Literal["active", "escalated"] = Field(default="active", description="Initial status.")
    assignee_type: AssigneeType | None = Field(
        default=None, description="Assign to a member or agent."
    )
    assignee_id: RecordId | None = Field(
        default=None, max_length=40, description="Member or agent id."
    )


class UpdateConversationIn(_In):
    conversation_id: RecordId = record_id("conversation", "conv", required=True)
    status: ConversationStatus | None = Field(
        default=None, description="closed ends it; active reopens a closed one."
    )
    subject: OneLine | None = one_line("Subject.", 300)
    assignee_type: AssigneeType | None = Field(default=None, description=ASSIGNEE)
    assignee_id: RecordId | None = Field(
        default=None, max_length=40, description="Member or agent id."
    )


class ConversationIdIn(_In):
    conversation_id: RecordId = record_id("conversation", "conv", required=True)


# ---------------------------------------------------------------- messages and notes


class MessagePublic(_Out):
    id: str
    conversation_id: str
    author_type: AuthorType
    author_id: str | None = None
    body: str
    created_at: datetime


class ListMessagesIn(PagedListParams):  # 000 pages with page/per_page
    model_config = ConfigDict(extra="forbid")

    conversation_id: RecordId = record_id("conversation", "conv", required=True)


class CreateMessageIn(_In):
    conversation_id: RecordId = record_id("conversation", "conv", required=True)
    author_type: AuthorType = Field(description="Who wrote it.")
    author_id: RecordId | None = Field(
        default=None,
        max_length=40,
        description="Agent or member id (default: the conversation's agent or contact).",
    )
    body: str = Field(min_length=1, max_length=20_000, description="Message text.")


class NotePublic(_Out):
    id: str
    conversation_id: str
    author: str | None = None
    body: str
    created_at: datetime


class ListNotesIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    conversation_id: RecordId = record_id("conversation", "conv", required=True)


class CreateNoteIn(_In):
    conversation_id: RecordId = record_id("conversation", "conv", required=True)
    body: str = Field(min_length=1, max_length=20_000, description="Internal note text.")
    author: OneLine | None = one_line("Who wrote it (member or agent id, or a name).", 200)
