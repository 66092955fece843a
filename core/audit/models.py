"""The audit log table: one row per authenticated call, on every channel."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk


class AuditEntry(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (tenant_pk("audit_log"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    token_id: str | None = Field(default=None, max_length=40)
    token_name: str | None = Field(default=None, max_length=200)
    channel: str = Field(max_length=10)
    operation: str = Field(max_length=80)
    status: int
    outcome: str = Field(max_length=80, description="'ok', 'replayed' or the error code")
    request_id: str = Field(max_length=40)
    resource_id: str | None = Field(default=None, max_length=40)
    path: str | None = Field(default=None, max_length=500)
    """The endpoint URL of a REST request (no query string); None on other channels."""
    created_at: datetime = Field(sa_type=UTCDateTime)
