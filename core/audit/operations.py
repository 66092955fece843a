"""Reading the audit log (scope ``workspace:admin``)."""

from __future__ import annotations

from pydantic import ConfigDict, Field
from sqlmodel import select

from core.audit.models import AuditEntry, AuditEntryPublic
from core.operations import Context, Kind, Operation
from core.pagination import ListParams, Page, paginate


class ListAuditIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    operation: str | None = Field(default=None, max_length=80, description="Only this operation.")
    channel: str | None = Field(default=None, max_length=10, description="rest, mcp or cli.")
    token_id: str | None = Field(default=None, max_length=40, description="Only this token.")
    outcome: str | None = Field(
        default=None, max_length=80, description="'ok', 'replayed' or an error code."
    )


async def list_audit(ctx: Context, args: ListAuditIn) -> Page[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.workspace_id == ctx.workspace_id)
    for column, value in (
        (AuditEntry.operation, args.operation),
        (AuditEntry.channel, args.channel),
        (AuditEntry.token_id, args.token_id),
        (AuditEntry.outcome, args.outcome),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(ctx.session, stmt, AuditEntry.id, limit=args.limit, cursor=args.cursor)


OPERATIONS = [
    Operation(
        name="list_audit_log",
        summary="Read the audit log",
        description=(
            "List audit entries of this workspace, newest first: every REST request and MCP "
            "tool call with token, channel, operation, status, outcome and request id."
        ),
        scope="workspace:admin",
        kind=Kind.read,
        toolset="admin",
        method="GET",
        path="/audit",
        input_model=ListAuditIn,
        output_model=AuditEntryPublic,
        handler=list_audit,
        paginated=True,
    ),
]
