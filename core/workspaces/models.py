"""The workspace (tenant) table and its statuses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime


class WorkspaceStatus(StrEnum):
    active = "active"
    archived = "archived"
    closed = "closed"
    purged = "purged"
    """The tombstone: a closed workspace past its retention, whose records are deleted."""


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    plan: str = Field(max_length=20)
    status: str = Field(default=WorkspaceStatus.active, max_length=20)
    enabled_modules: list[str] = Field(sa_type=JSONType)
    rest_api_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    """The per-workspace REST kill switch: off, REST answers 404 ``rest_api_disabled``
    (MCP is unaffected)."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When it was closed: its records are purged a retention period later."""
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
