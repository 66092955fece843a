"""Workspace public shapes and what ``get_me`` answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

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
