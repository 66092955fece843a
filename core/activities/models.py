"""The activities table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk


class Activity(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        tenant_pk("activities"),
        sa.Index(
            "ix_activities_workspace_id_related", "workspace_id", "related_type", "related_id", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    type: str = Field(max_length=20)
    summary: str = Field(max_length=500)
    body: str | None = Field(default=None, max_length=20_000)
    related_type: str | None = Field(default=None, max_length=30)
    related_id: str | None = Field(default=None, max_length=40)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    logged_by: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=10)
    search_text: str = Field(default="", max_length=21_000)
    created_at: datetime = Field(sa_type=UTCDateTime)
