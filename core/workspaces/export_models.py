"""The workspace's data exports: a job table (``core.jobs``). Apart from ``models`` so
that the workspace table imports nothing of the job machinery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk
from core.jobs.fields import JobFields


class ExportStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class WorkspaceExport(JobFields, WorkspaceOwned, table=True):
    """A data export of the whole workspace (a job): one zip archive of NDJSON files,
    one file per table, written by the worker."""

    __tablename__ = "workspace_exports"
    __table_args__ = (
        tenant_pk("workspace_exports"),
        sa.Index(
            "ix_workspace_exports_due",
            "run_after",
            "id",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    run_after: datetime = Field(sa_type=UTCDateTime)  # indexed by ix_workspace_exports_due
    status: str = Field(default=ExportStatus.queued, max_length=20)
    file_name: str | None = Field(default=None, max_length=200)
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    record_counts: dict[str, int] | None = Field(default=None, sa_type=JSONType)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
