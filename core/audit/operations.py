"""Reading the audit log (scope ``workspace:admin``; its tool is in the ``admin`` toolset
the tokens domain declares)."""

from __future__ import annotations

from urllib.parse import urlsplit

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
        request_id=a.request_id,
        path=urlsplit(a.path).path if a.path else None,  # a full URL works too
        since=a.since,
        until=a.until,
        limit=a.limit,
        cursor=a.cursor,
    )


OPERATIONS = [
    audit.list(
        "list_audit_log", "/audit", list_audit, ListAuditIn, AuditEntryPublic,
        summary="Read the audit log",
        description=(
            "List audit entries of this workspace, newest first: every REST request and MCP "
            "tool call with token, channel, operation, status, outcome, request id and (REST) "
            "path; filter by any of them and by time (since, until)."
        ),
    ),
]  # fmt: skip
