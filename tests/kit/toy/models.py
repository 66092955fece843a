"""The toy domain's table (in a metadata of its own, so migrations never see it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_pk


class ToyBase(SQLModel):
    metadata = sa.MetaData()


class Widget(ToyBase, WorkspaceOwned, table=True):
    __tablename__ = "toy_widgets"
    __table_args__ = (tenant_pk("toy_widgets"),)

    workspace_id: str = Field(primary_key=True, max_length=40)
    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
