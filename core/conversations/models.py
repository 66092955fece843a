"""Conversations tables: agents, conversations, messages, notes.

Notes live in their own table: no query of messages can return one.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_fk, tenant_pk, workspace_fk


class Agent(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "agents"
    __table_args__ = (
        tenant_pk("agents"),
        tenant_fk("agents", "collection_id", "knowledge_collections"),
        sa.Index("ix_agents_workspace_id_status_id", "workspace_id", "status", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    status: str = Field(max_length=20)
    site_url: str | None = Field(default=None, max_length=2_000)
    collection_id: str | None = Field(default=None, max_length=40)
    description: str | None = Field(default=None, max_length=2_000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Conversation(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        tenant_pk("conversations"),
        tenant_fk("conversations", "agent_id", "agents"),
        tenant_fk("conversations", "contact_id", "contacts"),
        tenant_fk("conversations", "assigned_agent_id", "agents"),
        sa.Index("ix_conversations_workspace_id_status_id", "workspace_id", "status", "id"),
        sa.Index("ix_conversations_workspace_id_agent_id_id", "workspace_id", "agent_id", "id"),
        sa.Index("ix_conversations_workspace_id_contact_id_id", "workspace_id", "contact_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    agent_id: str | None = Field(default=None, max_length=40)
    contact_id: str | None = Field(default=None, max_length=40)
    channel: str = Field(max_length=20)
    status: str = Field(max_length=20)
    subject: str | None = Field(default=None, max_length=300)
    assigned_member_id: str | None = Field(default=None, max_length=40)
    assigned_agent_id: str | None = Field(default=None, max_length=40)
    message_count: int = 0
    last_message_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Message(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        tenant_pk("conversation_messages"),
        tenant_fk("conversation_messages", "conversation_id", "conversations", ondelete="CASCADE"),
        sa.Index(
            "ix_conversation_messages_workspace_id_conversation_id_id",
            "workspace_id",
            "conversation_id",
            "id",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    conversation_id: str = Field(max_length=40)
    author_type: str = Field(max_length=20)
    author_id: str | None = Field(default=None, max_length=40)
    body: str = Field(max_length=20_000)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Note(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "conversation_notes"
    __table_args__ = (
        tenant_pk("conversation_notes"),
        tenant_fk("conversation_notes", "conversation_id", "conversations", ondelete="CASCADE"),
        sa.Index(
            "ix_conversation_notes_workspace_id_conversation_id_id",
            "workspace_id",
            "conversation_id",
            "id",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    conversation_id: str = Field(max_length=40)
    author: str | None = Field(default=None, max_length=200)
    body: str = Field(max_length=20_000)
    created_at: datetime = Field(sa_type=UTCDateTime)
