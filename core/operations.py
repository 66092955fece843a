"""Operations: every capability declared once, with everything the adapters derive.

An ``Operation`` names the REST route, the MCP tool, the OpenAPI entry, the scope and
plan checks and the test matrices. Domains export a list ``OPERATIONS``; the
``Registry`` collects them and filters by toolset, read-only mode and scopes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.db import Database, WorkspaceId
from core.errors import DomainError
from core.principal import Principal

if TYPE_CHECKING:
    from core.events.models import DomainEvent


class Kind(StrEnum):
    read = "read"
    write = "write"
    delete = "delete"


class Channel(StrEnum):
    rest = "rest"
    mcp = "mcp"
    cli = "cli"
    dashboard = "dashboard"


@dataclass
class Context:
    """What a handler gets: the open transaction, the caller and the runtime."""

    session: AsyncSession
    principal: Principal
    channel: Channel
    request_id: str
    settings: Settings
    db: Database
    now: datetime
    resource_id: str | None = None  # set by handlers to enrich the audit row
    prepared: Any = None
    """What the operation's ``prepare`` step answered (checked before the transaction)."""

    @property
    def workspace_id(self) -> WorkspaceId:
        return self.principal.workspace_id

    async def emit(self, type_: str, data: dict[str, Any]) -> DomainEvent:
        """Record a domain event in this transaction."""
        from core.events.service import emit

        return await emit(self.session, self.workspace_id, type_, data)


Handler = Callable[[Context, Any], Awaitable[Any]]
Prepare = Callable[[Settings, Any], Awaitable[Any]]

ANY_SCOPE = "token:any"
"""Scope value for operations every valid token may call (e.g. ``get_me``)."""
ANY_READ_SCOPE = "any:read"
"""Scope value for operations any token holding some ``…:read`` scope may call
(``get_workspace``, as the reference API requires "any read scope")."""
PSEUDO_SCOPES = frozenset({ANY_SCOPE, ANY_READ_SCOPE})
"""Scope values that name no scope of their own."""


def holds_scope(scopes: frozenset[str], scope: str) -> bool:
    """Whether a token with ``scopes`` satisfies an operation requiring ``scope``."""
    if scope == ANY_SCOPE:
        return True
    if scope == ANY_READ_SCOPE:
        return any(s.endswith(":read") for s in scopes)
    return scope in scopes


_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class Operation:
    """One capability of the platform, served as a REST route and an MCP tool."""

    name: str
    summary: str
    description: str
    scope: str
    kind: Kind
    toolset: str
    method: str
    path: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    success_status: int = 200
    paginated: bool = False
    destructive: bool = False
    idempotent: bool | None = None
    module: str | None = None
    feature: str | None = None
    errors: tuple[type[DomainError], ...] = ()
    long_poll_seconds_field: str | None = None
    open_world: bool = False
    """Its effects reach outside Patchbay (webhooks sent, workflows run): MCP's
    ``openWorldHint``."""
    mcp_tool: bool = True
    """Served as an MCP tool; False for REST-only aliases of another tool."""
    prepare: Prepare | None = None
    """A slow check run by the gate after validation and before the transaction opens
    (resolving a webhook URL's host): no write lock is held while it waits. What it
    answers reaches the handler as ``ctx.prepared``."""
    allowed_when_archived: bool = False
    """Served while the workspace is archived (its status, billing view, export, restore);
    every other operation answers 403 ``workspace_inactive`` then."""
    allowed_when_closed: bool = False
    """Served while the workspace is closed (the export, until the purge)."""
    operation_id: str = ""
    """The OpenAPI ``operationId``: the reference API's name where it names the operation
    (``listContacts`` for ``search_contacts``), else the camelCase of ``name``."""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.operation_id:
            head, *rest = self.name.split("_")
            object.__setattr__(self, "operation_id", head + "".join(w.title() for w in rest))

    @property
    def path_params(self) -> list[str]:
        """Names of the ``{placeholders}`` in ``path``."""
        return re.findall(r"{(\w+)}", self.path)

    @property
    def read_only(self) -> bool:
        return self.kind is Kind.read

    @property
    def is_idempotent(self) -> bool:
        """Whether repeating the call with the same arguments is harmless."""
        if self.idempotent is not None:
            return self.idempotent
        return self.kind is not Kind.write

    @property
    def is_destructive(self) -> bool:
        return self.kind is Kind.delete or (self.kind is Kind.write and self.destructive)

    def validate_declaration(self) -> None:
        """Raise ValueError if the declaration breaks a house rule."""
        if not _NAME_RE.match(self.name):
            raise ValueError(f"operation name {self.name!r} is not snake_case")
        if ":" not in self.scope or self.scope.count(":") != 1:
            raise ValueError(f"{self.name}: scope {self.scope!r} is not group:mode")
        if not self.summary or not self.description:
            raise ValueError(f"{self.name}: summary and description are required")
        if self.method not in {"GET", "POST", "PATCH", "PUT", "DELETE"}:
            raise ValueError(f"{self.name}: bad method {self.method}")
        if not self.path.startswith("/"):
            raise ValueError(f"{self.name}: path must start with /")
        missing = [p for p in self.path_params if p not in self.input_model.model_fields]
        if missing:
            raise ValueError(f"{self.name}: path params {missing} not in input model")


@dataclass(frozen=True)
class Declare:
    """The one way a domain declares its operations: what they share (scope group,
    toolset, module, plan feature, usual errors) once, then one call per operation.

    ``scope="crm"`` gives reads ``crm:read`` and writes ``crm:write`` (``read_scope`` /
    ``write_scope`` override, e.g. ``workflows:run``). ``writes_emit_events`` marks every
    write ``open_world`` (its events reach webhook endpoints); ``errors`` are those every
    operation but the lists may answer. Each method takes the
    operation's name, path, handler, input and output models, a summary and a
    description; any other ``Operation`` field may be given as a keyword.
    """

    scope: str
    toolset: str
    module: str | None = None
    feature: str | None = None
    read_scope: str | None = None
    write_scope: str | None = None
    writes_emit_events: bool = False
    errors: tuple[type[DomainError], ...] = ()
    """Errors every operation but the lists may answer (shown in the OpenAPI document)."""

    def _op(self, kind: Kind, method: str, **fields: Any) -> Operation:
        default_scope = (
            self.read_scope or f"{self.scope}:read"
            if kind is Kind.read
            else self.write_scope or f"{self.scope}:write"
        )
        fields.setdefault("scope", default_scope)
        fields.setdefault("toolset", self.toolset)
        fields.setdefault("module", self.module)
        fields.setdefault("feature", self.feature)
        if not fields.get("paginated"):
            fields.setdefault("errors", self.errors)
        if kind is not Kind.read:
            fields.setdefault("open_world", self.writes_emit_events)
        return Operation(kind=kind, method=method, **fields)

    def list(
        self,
        name: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        **more: Any,
    ) -> Operation:
        """``GET`` of a cursor-paginated list."""
        return self._op(Kind.read, "GET", name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, paginated=True, **more)  # fmt: skip

    def get(
        self,
        name: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        **more: Any,
    ) -> Operation:
        """``GET`` of one record."""
        return self._op(Kind.read, "GET", name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, **more)  # fmt: skip

    def create(
        self,
        name: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        **more: Any,
    ) -> Operation:
        """``POST`` creating a record: 201."""
        more.setdefault("success_status", 201)
        return self._op(Kind.write, "POST", name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, **more)  # fmt: skip

    def update(
        self,
        name: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        **more: Any,
    ) -> Operation:
        """``PATCH`` of a record: only sent fields change (destructive, idempotent)."""
        more.setdefault("destructive", True)
        more.setdefault("idempotent", True)
        return self._op(Kind.write, "PATCH", name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, **more)  # fmt: skip

    def delete(
        self,
        name: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        **more: Any,
    ) -> Operation:
        """``DELETE`` (or an irreversible erasure)."""
        return self._op(Kind.delete, "DELETE", name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, **more)  # fmt: skip

    def action(
        self,
        name: str,
        method: str,
        path: str,
        handler: Handler,
        input_model: Any,
        output_model: Any,
        *,
        summary: str,
        description: str,
        kind: Kind = Kind.write,
        **more: Any,
    ) -> Operation:
        """Anything else (``POST /leads/{id}/convert``, ``POST …/runs``)."""
        return self._op(kind, method, name=name, path=path, handler=handler,
                        input_model=input_model, output_model=output_model, summary=summary,
                        description=description, **more)  # fmt: skip


@dataclass(frozen=True)
class Toolset:
    """A family of MCP tools that a client can select by name (``X-MCP-Toolsets``)."""

    name: str
    description: str
    default: bool = False
    """Listed when neither the operator nor the request chose toolsets."""


@dataclass(frozen=True)
class ToolFilter:
    """Which operations a caller sees: composed from operator settings and request headers."""

    toolsets: frozenset[str] | None = None
    read_only: bool = False
    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()

    def admits(self, op: Operation) -> bool:
        if self.toolsets is not None and op.toolset not in self.toolsets:
            return False
        if self.read_only and not op.read_only:
            return False
        if self.allow is not None and op.name not in self.allow:
            return False
        return op.name not in self.deny

    def narrow(self, other: ToolFilter) -> ToolFilter:
        """The intersection of two filters: a request can only narrow the operator's."""
        toolsets = self.toolsets
        if other.toolsets is not None:
            toolsets = other.toolsets if toolsets is None else toolsets & other.toolsets
        allow = self.allow
        if other.allow is not None:
            allow = other.allow if allow is None else allow & other.allow
        return ToolFilter(
            toolsets, self.read_only or other.read_only, allow, self.deny | other.deny
        )


class Registry:
    """All operations by name, in declaration order, and the toolsets they belong to."""

    def __init__(
        self, operations: Iterable[Operation] = (), toolsets: Iterable[Toolset] = ()
    ) -> None:
        self._ops: dict[str, Operation] = {}
        self._toolsets: dict[str, Toolset] = {}
        self.related_types: tuple[str, ...] = ()
        """The record types links may name (``core.related``), in declaration order."""
        for toolset in toolsets:
            self.add_toolset(toolset)
        for op in operations:
            self.add(op)

    def add_toolset(self, toolset: Toolset) -> None:
        if not _NAME_RE.match(toolset.name):
            raise ValueError(f"toolset name {toolset.name!r} is not snake_case")
        if toolset.name in self._toolsets:
            raise ValueError(f"duplicate toolset {toolset.name!r}")
        self._toolsets[toolset.name] = toolset

    def add(self, op: Operation) -> None:
        op.validate_declaration()
        if op.name in self._ops:
            raise ValueError(f"duplicate operation name {op.name!r}")
        if any(o.operation_id == op.operation_id for o in self._ops.values()):
            raise ValueError(f"duplicate operationId {op.operation_id!r}")
        if self._toolsets and op.toolset not in self._toolsets:
            raise ValueError(f"{op.name}: toolset {op.toolset!r} is not declared")
        self._ops[op.name] = op

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    def get(self, name: str) -> Operation | None:
        return self._ops.get(name)

    @property
    def toolsets(self) -> list[Toolset]:
        """Declared toolsets that hold at least one MCP tool, in declaration order."""
        used = {op.toolset for op in self._ops.values() if op.mcp_tool}
        return [t for t in self._toolsets.values() if t.name in used]

    @property
    def toolset_names(self) -> list[str]:
        return [t.name for t in self.toolsets]

    @property
    def default_toolsets(self) -> frozenset[str]:
        """The toolsets listed when nobody chose any."""
        return frozenset(t.name for t in self.toolsets if t.default)

    def visible(self, principal: Principal | None, tool_filter: ToolFilter) -> list[Operation]:
        """Operations the filter admits and, if given, the principal may call."""
        return [
            op
            for op in self._ops.values()
            if op.mcp_tool
            and tool_filter.admits(op)
            and (principal is None or may_call(principal, op))
        ]


def may_call(principal: Principal, op: Operation) -> bool:
    """Scope, plan feature and module checks (what a tool list hides)."""
    if not holds_scope(principal.scopes, op.scope):
        return False
    if op.feature and not principal.plan.allows_feature(op.feature):
        return False
    return not (op.module and op.module not in principal.enabled_modules)
