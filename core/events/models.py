"""Domain events: rows written in the same transaction as the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk


class DomainEvent(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "domain_events"
    __table_args__ = (tenant_pk("domain_events"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    type: str = Field(max_length=120, index=True)
    data: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)
