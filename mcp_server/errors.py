"""Error codes that only the MCP transport can produce (SPEC §3 envelope, like the rest)."""

from __future__ import annotations

from core.errors import DomainError, ValidationFailed


class ToolNotFound(DomainError):
    code = "tool_not_found"
    status = 404
    default_message = "No such tool for this session."


class UnknownToolset(ValidationFailed):
    code = "unknown_toolset"
