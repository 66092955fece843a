"""Columns every job table carries (workflow runs, webhook deliveries, crawls)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class JobFields(SQLModel):
    """Scheduling and lease columns. A row is claimable when its status is one of its
    queue's ready statuses, ``run_after`` has passed and no live lease holds it."""

    run_after: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str | None = Field(default=None, max_length=80)
    attempts: int = Field(default=0)
