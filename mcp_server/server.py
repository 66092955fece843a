"""``build_server(runtime)``: every registry operation as an MCP tool, listed per caller.

The low-level ``mcp.server.lowlevel.Server`` is used so ``tools/list`` is computed for
each request: the operator ceiling (settings / ``patchbay mcp`` flags), the request's
``X-MCP-Toolsets`` / ``X-MCP-Readonly`` headers (which can only narrow), and the
token's scopes, plan and modules (``Registry.visible``).

Calls go through ``core.gateway.dispatch`` with ``Channel.mcp``: the same checks, rate
limit, idempotency, transaction and audit as REST. Decisions:

- A tool the token's scopes/plan/modules hide is still *callable*: the gateway answers
  with an informative tool error (``scope_missing``, ``tier_not_entitled`` …). Only
  tools outside the toolset filter (operator or header) and unknown names answer the
  tool error ``tool_not_found``.
- A token whose channel checks fail (no ``api:mcp`` ability, plan without MCP, inactive
  workspace) gets a protocol error on ``tools/list`` (HTTP answers 403 before that).
- Toolsets are declared by the domains (``Toolset`` in their operations modules); the
  default selection is the toolsets marked ``default``, and a selection naming a toolset
  that does not exist is refused (``UnknownToolsets``), never silently empty.
- A domain error is a tool result with ``isError`` and the error envelope as text, and
  no structured content (see ``tool_result``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.lowlevel import Server

from core.config import Settings
from core.errors import DomainError, InternalError, ValidationFailed
from core.gateway import (
    Call,
    Outcome,
    authorize,
    check_channel,
    count_request,
    dispatch,
    new_request_id,
)
from core.operations import Channel, Kind, Operation, Registry, ToolFilter
from core.principal import Principal
from core.runtime import Runtime
from mcp_server.adapter import IDEMPOTENCY_KEY, toolbox
from mcp_server.auth import principal_of
from mcp_server.errors import ToolNotFound

log = logging.getLogger("patchbay.mcp")

ALL = "all"
DEFAULT = "default"
PAGE_SIZE = 50
TOOLSETS_HEADER = "x-mcp-toolsets"
READONLY_HEADER = "x-mcp-readonly"
_TRUTHY = frozenset({"1", "true", "yes", "on"})


class UnknownToolsets(ValueError):
    """A toolset selection named toolsets that do not exist."""

    def __init__(self, unknown: list[str], valid: list[str]) -> None:
        self.unknown = unknown
        self.valid = valid
        super().__init__(
            f"Unknown toolset{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}. Valid: "
            f"{', '.join(valid)}; or '{DEFAULT}' (the default selection) or '{ALL}'."
        )


def instructions(registry: Registry) -> str:
    """The server instructions: what Patchbay is, its toolsets and the shared conventions."""
    families = "\n".join(
        f"- {t.name}{' (default)' if t.default else ''}: {t.description}" for t in registry.toolsets
    )
    return f"""\
Patchbay is a CRM and automation platform. Its tools come in toolsets:
{families}
Without a choice a session lists the default toolsets; a client selects others with the
X-MCP-Toolsets header (names, "default" or "all"), `patchbay mcp --toolsets` over stdio.
You only see tools this token may call; call get_me first to learn the workspace, plan and
scopes.

Results are {{"data": …, "request_id": "req_…"}}; each tool's output schema says what data
holds. Lists take limit (1-100, default 25) and cursor: pass a page's next_cursor as cursor
for the next one (null on the last page). Errors are tool errors whose text is
{{"error": {{"code", "message", "request_id", "details"?, "retry_after_seconds"?}}}}; codes
are stable (scope_missing, validation_error, *_not_found, rate_limited …).

Every write takes an optional idempotency_key: repeating a call with the same key returns
the first result instead of writing twice, so retries are safe.

Long work runs in the background: trigger_workflow answers at once with the queued run;
poll get_workflow_run with its id (wait_seconds long-polls) until the status is succeeded
or failed.
"""


def parse_toolsets(value: str | Iterable[str] | None, registry: Registry) -> frozenset[str] | None:
    """A toolset selection (comma separated names, ``default``, ``all``) as a set of names;
    ``None`` for ``all`` or nothing. Unknown names raise ``UnknownToolsets``."""
    if value is None:
        return None
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    chosen = {v for v in items if v}
    if not chosen or ALL in chosen:
        return None
    valid = registry.toolset_names
    unknown = sorted(chosen - set(valid) - {DEFAULT})
    if unknown:
        raise UnknownToolsets(unknown, valid)
    if DEFAULT in chosen:
        chosen = (chosen - {DEFAULT}) | registry.default_toolsets
    return frozenset(chosen)


def _csv(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    items = frozenset(v.strip() for v in value.split(",") if v.strip())
    return items or None


@dataclass(frozen=True)
class ToolPolicy:
    """The operator's ceiling, the default selection for requests that choose none, and
    the registry whose toolset names a request may use."""

    ceiling: ToolFilter = field(default_factory=ToolFilter)
    default: ToolFilter | None = None
    registry: Registry | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        registry: Registry,
        *,
        toolsets: str | Iterable[str] | None = None,
        read_only: bool = False,
    ) -> ToolPolicy:
        """Settings (``mcp_toolsets``, ``mcp_readonly``, allow/deny lists) and CLI flags.

        Flags narrow the settings. Once the operator names toolsets (``all`` included)
        or an allow list, the default selection no longer applies. Unknown toolset names
        raise ``UnknownToolsets``.
        """
        ceiling = ToolFilter(
            toolsets=parse_toolsets(settings.mcp_toolsets, registry),
            read_only=settings.mcp_readonly,
            allow=_csv(settings.mcp_allow_tools),
            deny=_csv(settings.mcp_deny_tools) or frozenset(),
        )
        flag_toolsets = parse_toolsets(toolsets, registry)
        ceiling = ceiling.narrow(ToolFilter(toolsets=flag_toolsets, read_only=read_only))
        chosen = (
            settings.mcp_toolsets is not None
            or settings.mcp_allow_tools is not None
            or toolsets is not None
        )
        default = None if chosen else ToolFilter(toolsets=registry.default_toolsets)
        return cls(ceiling, default, registry)

    def check_header(self, toolsets_header: str | None) -> None:
        """Raise ``UnknownToolsets`` if the header names a toolset that does not exist."""
        if self.registry is not None and toolsets_header is not None:
            parse_toolsets(toolsets_header, self.registry)

    def for_request(
        self, toolsets_header: str | None = None, readonly_header: str | None = None
    ) -> ToolFilter:
        """The filter for one request: headers can only narrow the ceiling."""
        result = self.ceiling
        if toolsets_header is not None and toolsets_header.strip():
            if self.registry is not None:
                chosen = parse_toolsets(toolsets_header, self.registry)
            else:
                chosen = _csv(toolsets_header)
                chosen = None if chosen is None or ALL in chosen else chosen
            result = result.narrow(ToolFilter(toolsets=chosen))
        elif self.default is not None:
            result = result.narrow(self.default)
        if readonly_header is not None and readonly_header.strip().lower() in _TRUTHY:
            result = result.narrow(ToolFilter(read_only=True))
        return result


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"tools:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        offset = int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        offset = -1
        prefix = ""
    if prefix != "tools" or offset < 0:
        raise MCPError(types.INVALID_PARAMS, "Invalid cursor for tools/list.")
    return offset


def error_payload(outcome: Outcome) -> dict[str, Any]:
    """The SPEC §3 error envelope, with ``retry_after_seconds`` lifted for easy reading."""
    error = dict(outcome.body.get("error", {}))
    retry = (error.get("details") or {}).get("retry_after_seconds")
    if retry is not None:
        error["retry_after_seconds"] = retry
    return {"error": error}


def tool_result(outcome: Outcome) -> types.CallToolResult:
    """The MCP result of a gateway outcome.

    Success: structured content (the envelope, valid against the tool's output schema)
    mirrored as JSON text. Error: ``isError`` with the error envelope as JSON text and NO
    structured content: the TypeScript SDK (Claude Desktop, the Inspector, n8n) validates
    any structured content against the output schema, errors included, and would turn a
    domain error into ``-32602 Structured content does not match``; the Python SDKs skip
    error results. Text is what every client hands the model.
    """
    if not outcome.ok:
        text = json.dumps(error_payload(outcome), separators=(",", ":"))
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(outcome.body, separators=(",", ":")))],
        structured_content=outcome.body,
        is_error=False,
    )


def tool_error(error: DomainError, request_id: str) -> types.CallToolResult:
    """A tool error raised before the gateway (unknown tool, bad arguments shape)."""
    return tool_result(
        Outcome(error.status, error.body(request_id), request_id, dict(error.headers), error)
    )


def _server_version() -> str:
    try:
        return version("patchbay")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _protocol_error(error: DomainError) -> MCPError:
    """A channel failure as a JSON-RPC error carrying the SPEC §3 error object."""
    return MCPError(
        types.INVALID_REQUEST,
        f"{error.code}: {error.message}",
        data={"code": error.code, "message": error.message},
    )


def build_server(
    runtime: Runtime,
    *,
    policy: ToolPolicy | None = None,
    token: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Server[Any]:
    """The MCP server over ``runtime``'s registry.

    ``token`` fixes the caller (stdio, in-memory tests); without it the caller is the
    bearer token of the current HTTP request (``get_access_token()``).
    """
    registry = runtime.registry
    tools = toolbox(registry)
    policy = policy or ToolPolicy.from_settings(runtime.settings, registry)

    def credentials() -> str | None:
        if token is not None:
            return token
        access = get_access_token()
        return access.token if access is not None else None

    def request_filter(ctx: Any) -> ToolFilter:
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None)
        if headers is None:
            return policy.for_request()
        return policy.for_request(headers.get(TOOLSETS_HEADER), headers.get(READONLY_HEADER))

    async def principal() -> Principal:
        access = get_access_token()
        cached = (access.claims or {}).get("principal") if access is not None else None
        try:
            if isinstance(cached, Principal) and token is None:
                check_channel(cached, Channel.mcp)  # authenticated for this very request
                return cached
            found = await authorize(runtime, credentials(), Channel.mcp)
            # over HTTP the transport counted the request; over stdio (a fixed token) a
            # tools/list counts here, like a tool call does in the gate
            await count_request(runtime, found)
            return found
        except DomainError as error:
            raise _protocol_error(error) from None

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        start = decode_cursor(params.cursor) if params is not None and params.cursor else 0
        try:
            visible = registry.visible(await principal(), request_filter(ctx))
        except MCPError:
            raise
        except Exception:  # never let an exception's text reach a legacy client
            request_id = new_request_id()
            log.exception("tools/list failed (request %s)", request_id)
            error = InternalError()
            raise MCPError(
                types.INTERNAL_ERROR,
                f"{error.code}: {error.message}",
                data={"code": error.code, "message": error.message, "request_id": request_id},
            ) from None
        page = visible[start : start + page_size]
        end = start + page_size
        return types.ListToolsResult(
            tools=[tools.tool(op) for op in page],
            next_cursor=encode_cursor(end) if end < len(visible) else None,
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        op = registry.get(params.name)
        call_filter = request_filter(ctx)
        if op is None or not call_filter.admits(op):
            error = ToolNotFound(
                f"No tool named '{params.name}' is available in this session; "
                "call tools/list to see the tools you can use."
            )
            return tool_error(error, new_request_id())
        try:
            return tool_result(await dispatch(runtime, make_call(op, params.arguments)))
        except Exception:  # dispatch never raises; belt and braces for the adapter
            request_id = new_request_id()
            log.exception("MCP call of %s failed (request %s)", op.name, request_id)
            return tool_error(InternalError(), request_id)

    def make_call(op: Operation, raw: dict[str, Any] | None) -> Call:
        arguments = dict(raw or {})
        key = arguments.pop(IDEMPOTENCY_KEY, None) if op.kind is not Kind.read else None

        async def load() -> dict[str, Any]:
            if key is not None and not isinstance(key, str):
                raise ValidationFailed("idempotency_key must be a string.")
            return arguments

        return Call(
            operation=op,
            credentials=credentials(),
            channel=Channel.mcp,
            load_arguments=load,
            strings=False,
            idempotency_key=key if isinstance(key, str) else None,
            authenticated=principal_of(get_access_token()) if token is None else None,
        )

    def schema_for(name: str) -> dict[str, Any] | None:
        op = registry.get(name)
        return tools.tool(op).input_schema if op is not None else None

    return Server(
        "patchbay",
        version=_server_version(),
        title="Patchbay",
        instructions=instructions(registry),
        website_url=runtime.settings.public_base_url,
        get_tool_input_schema=schema_for,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
