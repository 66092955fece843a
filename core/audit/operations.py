"""Reading the audit log (scope ``workspace:admin``; its tool is in the ``admin`` toolset
the tokens domain declares)."""

from __future__ import annotations

from core.audit import repository
from core.audit.models import AuditEntry
from core.audit.schemas import AuditEntryPublic, ListAuditIn
from core.operations import Context, Declare
from core.pagination import Page

audit = Declare(scope="workspace", toolset="admin", read_scope="workspace:admin")


async def list_audit(ctx: Context, a: ListAuditIn) -> Page[AuditEntry]:
    return await repository.list_entries(
        ctx.session,
        ctx.workspace_id,
        operation=a.operation,
        channel=a.channel,
        token_id=a.token_id,
        outcome=a.outcome,
        limit=a.limit,
        cursor=a.cursor,
    )


OPERATIONS = [
    audit.list(
        "list_audit_log", "/audit", list_audit, ListAuditIn, AuditEntryPublic,
        summary="Read the audit log",
        description=(
            "List audit entries of this workspace, newest first: every REST request and MCP "
            "tool call with token, channel, operation, status, outcome and request id."
        ),
    ),
]  # fmt: skip
