"""Workspace public shapes and what ``get_me`` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.fields import RecordId, record_id
from core.workspaces.models import WorkspaceStatus


class NoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkspacePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    plan: str
    status: WorkspaceStatus
    enabled_modules: list[str]
    created_at: datetime


class WorkspaceSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rest_api_enabled: bool = Field(
        description="false: REST answers 404 rest_api_disabled (MCP keeps working)."
    )


class WorkspaceSummary(BaseModel):
    """The reference API's workspace summary (``GET /workspace``)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    plan: str
    status: WorkspaceStatus
    enabled_modules: list[str]
    rest_api_enabled: bool = True
    created_at: datetime
    archived_at: datetime | None = None
    closed_at: datetime | None = None
    purge_after: datetime | None = None
    """Closed: when its records are purged (only the export answers until then)."""


class MeterUsage(BaseModel):
    meter: str = Field(description="workflow_runs, active_tokens, crawl_pages, stored_bytes, "
                       "deliveries or ai_tokens.")  # fmt: skip
    period: Literal["day", "cycle", "current"] = Field(
        description="day: this UTC day; cycle: this billing cycle; current: the level now."
    )
    used: int
    limit: int | None = Field(default=None, description="The plan's limit; omitted if none.")


class SubscriptionOut(BaseModel):
    """The read-only billing view (``GET /billing/subscription``)."""

    plan: str
    status: WorkspaceStatus
    cycle_start: datetime = Field(description="Monthly from the workspace's creation day.")
    cycle_end: datetime
    meters: list[MeterUsage]


class ExportIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    export_id: RecordId = record_id("export", "exp", required=True)


class ExportOut(BaseModel):
    """A data export: its status and, once it succeeded, a signed download link."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: datetime
    finished_at: datetime | None = None
    size_bytes: int | None = None
    record_counts: dict[str, int] | None = Field(
        default=None, description="Records per NDJSON file of the archive."
    )
    error: str | None = None
    download_url: str | None = Field(
        default=None, description="Signed link to the zip archive; expires (download_expires_at)."
    )
    download_expires_at: datetime | None = None


class Tenant(BaseModel):
    """The workspace as page-numbered clients name it: ``id``, a stable ``uuid``, ``name``."""

    id: str
    uuid: str
    name: str


class PlanLimits(BaseModel):
    name: str
    rest_api: bool
    mcp: bool
    workflows: bool
    daily_workflow_runs: int | None = None  # omitted when unlimited
    crawl_pages_per_crawl: int
    active_tokens: int


class TokenSelf(BaseModel):
    id: str
    name: str
    scopes: list[str]
    abilities: list[str]
    """The channels (``api:rest``, ``api:mcp``) and ``tenant:<workspace id>``, the
    workspace the token is bound to."""
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class MeOut(BaseModel):
    tenant: Tenant
    workspace: WorkspacePublic
    plan: PlanLimits
    token: TokenSelf
