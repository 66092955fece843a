"""``dispatch()``: the one gate every REST request and MCP tool call goes through.

Order (DESIGN.md): authenticate → ability for the channel → plan → scope → rate limit
→ input validation → idempotency → handler in one transaction → audit. The result is
an ``Outcome``: the status, the SPEC §3 envelope and the headers to send.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from core import deprecation, idempotency
from core.audit import service as audit
from core.db import WorkspaceId, use_tenant, utcnow
from core.errors import (
    AbilityMissing,
    DomainError,
    InternalError,
    ModuleNotEnabled,
    NotFound,
    RateLimited,
    RestApiDisabled,
    ScopeMissing,
    TierNotEntitled,
    ValidationFailed,
    WorkspaceInactive,
)
from core.operations import ANY_READ_SCOPE, Channel, Context, Kind, Operation, holds_scope
from core.pagination import CURSOR_SCOPE, PAGE_OFFSET, ListParams, Page, list_scope
from core.principal import Principal
from core.ratelimit import RateState
from core.runtime import Runtime
from core.tokens import service as tokens

log = logging.getLogger("patchbay.gateway")

ArgumentLoader = Callable[[], Awaitable[dict[str, Any]]]

UNLIMITED = RateState(allowed=True, limit=0, remaining=0, reset_epoch=0)
"""The rate state of calls no limit applies to (the operator's)."""

CHANNEL_ABILITY = {Channel.rest: "api:rest", Channel.mcp: "api:mcp"}


def new_request_id() -> str:
    """A fresh ``req_…`` id."""
    return "req_" + secrets.token_hex(12)


@dataclass
class Call:
    """One invocation of an operation, as an adapter hands it over."""

    operation: Operation
    credentials: str | None
    channel: Channel
    load_arguments: ArgumentLoader
    strings: bool = False  # arguments come from a query string: coerce "25" to 25
    idempotency_key: str | None = None
    request_id: str = field(default_factory=new_request_id)
    path: str | None = None
    """The endpoint URL of a REST request (no query string), kept in the audit log."""
    # Set by a transport that already authenticated ``credentials`` for this very request
    # (the MCP HTTP token verifier), so the token is not looked up twice.
    authenticated: Principal | None = None


@dataclass
class Outcome:
    """What to send back: status, envelope body and headers."""

    status: int
    body: dict[str, Any]
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def authorize(runtime: Runtime, credentials: str | None, channel: Channel) -> Principal:
    """Authenticate and apply the channel-wide checks (ability, plan, workspace status)."""
    async with runtime.db.session(read_only=True) as session:
        principal = await tokens.authenticate(session, credentials)
    check_channel(principal, channel)
    return principal


OPERATOR = "command line"
"""The name the operator's calls carry in the audit log (no token: ``token_id`` null)."""


async def operator_principal(session: Any, workspace_id: str) -> Principal:
    """The operator on the command line, acting in one workspace: every scope, the
    workspace's plan, modules and status; every ability (it may mint any token), no token."""
    from core.scopes import ALL_ABILITIES, ALL_SCOPES
    from core.workspaces import repository as workspaces
    from core.workspaces.plans import plan_for

    row = await workspaces.get(session, workspace_id)
    if row is None:
        raise NotFound("workspace", workspace_id)
    now = utcnow()
    return Principal(
        workspace_id=WorkspaceId(row.id),
        workspace_name=row.name,
        workspace_status=row.status,
        plan=plan_for(row.plan),
        enabled_modules=frozenset(row.enabled_modules),
        token_id="",
        token_name=OPERATOR,
        scopes=frozenset(ALL_SCOPES),
        abilities=frozenset(ALL_ABILITIES),  # may mint tokens for any channel
        rate_limit_per_minute=None,
        last_used_at=now,  # nothing to touch
        created_at=now,
        expires_at=None,
        rest_api_enabled=row.rest_api_enabled,
    )


def check_channel(principal: Principal, channel: Channel) -> None:
    """Ability for the channel and the plan's channel entitlement (the workspace's status
    is checked per operation: ``check_status``)."""
    ability = CHANNEL_ABILITY.get(channel)
    if ability and ability not in principal.abilities:
        raise AbilityMissing(ability)
    if channel is Channel.rest and not principal.plan.rest_api:
        raise TierNotEntitled(
            f"The REST API is not included in the {principal.plan.name} plan (pro and above)."
        )
    if channel is Channel.rest and not principal.rest_api_enabled:
        raise RestApiDisabled()
    if channel is Channel.mcp and not principal.plan.mcp:
        raise TierNotEntitled(f"MCP is not included in the {principal.plan.name} plan.")


def check_status(principal: Principal, op: Operation) -> None:
    """An archived or closed workspace answers only the operations that say they serve
    it (``Operation.allowed_when_archived`` / ``allowed_when_closed``)."""
    status = principal.workspace_status
    if status == "active":
        return
    if status == "archived" and op.allowed_when_archived:
        return
    if status == "closed" and op.allowed_when_closed:
        return
    raise WorkspaceInactive(
        f"The workspace is {status}: {op.name} is not available"
        + (" (an owner may restore it)." if status == "archived" else ".")
    )


def check_operation(principal: Principal, op: Operation) -> None:
    """Workspace status, plan feature, enabled module and scope for one operation."""
    check_status(principal, op)
    if op.feature and not principal.plan.allows_feature(op.feature):
        raise TierNotEntitled(f"'{op.feature}' is not included in the {principal.plan.name} plan.")
    if op.module and op.module not in principal.enabled_modules:
        raise ModuleNotEnabled(f"The '{op.module}' module is not enabled for this workspace.")
    if not holds_scope(principal.scopes, op.scope):
        raise ScopeMissing("any read scope" if op.scope == ANY_READ_SCOPE else op.scope)


def validate_arguments(op: Operation, raw: dict[str, Any], *, strings: bool) -> BaseModel:
    """Validate ``raw`` against the operation's input model (strict for JSON input)."""
    where = _nul_field(raw)
    if where is not None:
        # PostgreSQL text cannot hold U+0000 (the insert would fail with a 500).
        raise ValidationFailed(
            f"Invalid value for '{where}': text must not contain NUL (U+0000) characters.",
            details={"errors": [{"field": where, "problem": "contains U+0000"}]},
        )
    try:
        if strings:
            arguments = op.input_model.model_validate(raw)
        else:
            text = json.dumps(_integral_floats_as_ints(raw))
            arguments = op.input_model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": _problem(err)}
            for err in exc.errors(include_url=False)
        ]
        first = problems[0]
        raise ValidationFailed(
            f"Invalid value for '{first['field']}': {first['problem']}.",
            details={"errors": problems[:20]},
        ) from None
    return arguments


def _problem(err: Any) -> str:
    """Pydantic's message, said the way a caller reads it: a length limit checked on an
    optional string counts its characters (pydantic's generic check says "items"), and
    a field type's own check is not prefixed with "Value error"."""
    ctx = err.get("ctx") or {}
    if not isinstance(err.get("input"), str):
        return str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "too_long" and ctx.get("field_type") == "Value":
        return f"String should have at most {ctx['max_length']} characters"
    if err["type"] == "too_short" and ctx.get("field_type") == "Value":
        return f"String should have at least {ctx['min_length']} character" + (
            "s" if ctx["min_length"] != 1 else ""
        )
    return str(err["msg"]).removeprefix("Value error, ")


def _nul_field(value: Any) -> str | None:
    """The dotted path of the first string (or key) containing U+0000, or None (iterative,
    so deeply nested input cannot exhaust the stack)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "(body)"
            continue
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        for key, child in children:
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return where
            stack.append((where, child))
    return None


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with every float that holds an integer (``2.0``) as that int.

    JSON has one number type and JSON Schema's ``integer`` includes ``2.0``; strict
    validation would refuse it for an int field (a float field still takes the int).
    Iterative, so deeply nested input cannot exhaust the stack.
    """

    def convert(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer() and abs(item) <= 2**53:
            return int(item)
        return item

    root: list[Any] = [value]
    stack: list[dict[Any, Any] | list[Any]] = [root]
    while stack:
        container = stack.pop()
        keys = container.keys() if isinstance(container, dict) else range(len(container))
        for key in list(keys):
            item = container[key]  # type: ignore[index]
            if isinstance(item, dict):
                item = dict(item)
                stack.append(item)
            elif isinstance(item, list):
                item = list(item)
                stack.append(item)
            container[key] = convert(item)  # type: ignore[index]
    return root[0]


@functools.cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def render(op: Operation, result: Any) -> dict[str, Any]:
    """The success envelope (without request_id) for a handler's result."""
    if op.paginated:
        assert isinstance(result, Page), f"{op.name} must return a Page"
        adapter = _list_adapter(op.output_model)  # one validation pass for the whole page
        items = adapter.validate_python(result.items, from_attributes=True)
        data = adapter.dump_python(items, mode="json", exclude_none=True)
        return {"data": data, "next_cursor": result.next_cursor}
    item = op.output_model.model_validate(result, from_attributes=True)
    return {"data": item.model_dump(mode="json", exclude_none=True)}


async def dispatch(runtime: Runtime, call: Call) -> Outcome:
    """Run one call through the gate (``_dispatch``); never raises.

    Deprecated argument names and values (``core.deprecation``) are rewritten to the
    canonical ones when the arguments are loaded, and the answer says so in an
    ``X-API-Deprecation`` header.
    """
    notes: list[str] = []
    load = call.load_arguments

    async def load_canonical() -> dict[str, Any]:
        raw = await load()
        notes.extend(deprecation.rewrite(call.operation.input_model, raw))
        return raw

    call.load_arguments = load_canonical
    outcome = await _dispatch(runtime, call)
    if notes:
        outcome.headers[deprecation.HEADER] = deprecation.header_value(notes)
    return outcome


async def _dispatch(runtime: Runtime, call: Call) -> Outcome:
    """Run one call through every check and the handler; never raises.

    A call without an Idempotency-Key runs in ONE transaction: authentication, checks and
    the handler (and, for writes, the audit row). With a key, the key is claimed in its own
    committed transaction first (so a concurrent duplicate sees it at once), then the
    handler and the stored response commit together. An operation with a ``prepare``
    step (slow checks such as resolving a webhook URL's host) runs it after the checks and
    before its transaction opens, so no write lock is held while it waits.
    """
    op = call.operation
    principal: Principal | None = None
    rate: RateState | None = None
    claimed: idempotency.Claim | None = None
    read_only = op.kind is Kind.read
    key = None if read_only else call.idempotency_key
    # SQLite runs reads outside any transaction (no write lock), so their audit row is
    # group-committed afterwards (core.audit.writer); elsewhere it joins the read's
    # transaction (one INSERT in a transaction that is open anyway: cheaper on PostgreSQL
    # than a batch, measured with bench/rest_overhead.py).
    audit_apart = read_only and runtime.db.is_sqlite
    try:
        if key is None and op.prepare is None:
            async with runtime.db.session(read_only=read_only) as session:
                principal = await _authenticate(session, call)
                rate = await _admit(runtime, call, principal)
                arguments = validate_arguments(
                    op, await call.load_arguments(), strings=call.strings
                )
                outcome, resource_id = await _handle(
                    session, runtime, call, principal, arguments, rate, None, not audit_apart
                )
        else:
            async with runtime.db.session(read_only=True) as session:
                principal = await _authenticate(session, call)
            rate = await _admit(runtime, call, principal)
            arguments = validate_arguments(op, await call.load_arguments(), strings=call.strings)
            if key is None:  # an operation with a prepare step, no key
                assert op.prepare is not None
                prepared = await op.prepare(runtime.settings, arguments)
                async with runtime.db.session(principal.workspace_id) as session:
                    outcome, resource_id = await _handle(
                        session, runtime, call, principal, arguments, rate, None, True, prepared
                    )
                return outcome
            idempotency.check_key(key)
            claim = await idempotency.begin(
                runtime.db,
                principal,
                key=key,
                operation=op.name,
                fingerprint=idempotency.request_hash(op.name, arguments.model_dump(mode="json")),
                ttl_seconds=runtime.settings.idempotency_ttl_seconds,
                lock_seconds=runtime.settings.idempotency_lock_seconds,
            )
            if isinstance(claim, idempotency.Replay):
                await _audit(runtime, principal, call, claim.status, "replayed", None)
                body = {**claim.body, "request_id": call.request_id}
                return Outcome(claim.status, body, call.request_id, _headers(rate))
            claimed = claim
            prepared = None
            if op.prepare is not None:  # not for a replay: it answers what was stored
                prepared = await op.prepare(runtime.settings, arguments)
            async with runtime.db.session(principal.workspace_id) as session:
                outcome, resource_id = await _handle(
                    session, runtime, call, principal, arguments, rate, claimed, True, prepared
                )
        if audit_apart:
            await _audit(runtime, principal, call, op.success_status, "ok", resource_id)
        return outcome
    except DomainError as error:
        return await _fail(runtime, call, principal, rate, claimed, error)
    except Exception:
        log.exception("internal error in %s (request %s)", op.name, call.request_id)
        return await _fail(runtime, call, principal, rate, claimed, InternalError())


async def _authenticate(session: Any, call: Call) -> Principal:
    """The caller: pre-authenticated by the transport for this request, or by token."""
    if call.authenticated is not None:
        return call.authenticated
    return await tokens.authenticate(session, call.credentials)


async def _admit(runtime: Runtime, call: Call, principal: Principal) -> RateState:
    """Channel, plan, module and scope checks, then the rate limit.

    Every authenticated call counts, a refused one too (its answer still says where the
    token stands); a call whose HTTP request the transport already counted
    (``request_counted``) is not counted twice.
    """
    if call.channel is Channel.cli:  # the operator: no token, no rate limit
        check_channel(principal, call.channel)
        check_operation(principal, call.operation)
        return UNLIMITED
    try:
        check_channel(principal, call.channel)
        check_operation(principal, call.operation)
    except DomainError as error:
        counted = await _count(runtime, principal, raise_over=False)
        error.headers.update(counted.headers())
        raise
    return await _count(runtime, principal)


_COUNTED: ContextVar[tuple[str, RateState] | None] = ContextVar("patchbay_counted", default=None)
"""The token and rate state of the HTTP request being served, once a transport counted it."""


async def _count(runtime: Runtime, principal: Principal, *, raise_over: bool = True) -> RateState:
    counted = _COUNTED.get()
    if counted is not None and principal.token_id and counted[0] == principal.token_id:
        return counted[1]
    return await count_request(runtime, principal, raise_over=raise_over)


async def count_request(
    runtime: Runtime, principal: Principal, *, raise_over: bool = True
) -> RateState:
    """Count one request against the token's per-minute limit (shared by every channel).

    Raises ``RateLimited`` (429, with the ``X-RateLimit-*`` headers) over the limit unless
    ``raise_over`` is false, and ``RateLimiterUnavailable`` (503) without the store.
    """
    per_minute = principal.rate_limit_per_minute or runtime.settings.rate_limit_per_minute
    key = principal.token_id or f"member:{principal.member_id}"  # a dashboard call: per member
    rate = await runtime.limiter.hit(key, per_minute)
    if not rate.allowed and raise_over:
        error = RateLimited(
            rate.retry_after_seconds,
            f"Rate limit of {rate.limit} requests per minute exceeded; "
            f"retry in {rate.retry_after_seconds} s.",
        )
        error.headers.update(rate.headers())  # a 429 still says where the token stands
        raise error
    return rate


@contextmanager
def request_counted(principal: Principal, rate: RateState) -> Iterator[None]:
    """For a transport that counted its HTTP request itself (``count_request``) before
    handing it on: the calls that request makes are not counted again."""
    token = _COUNTED.set((principal.token_id, rate))
    try:
        yield
    finally:
        _COUNTED.reset(token)


async def admit_request(runtime: Runtime, credentials: str | None) -> RateState | None:
    """Count a request that names no operation (an unknown route, a wrong method) if its
    bearer token is valid; None for an anonymous or invalid one. Raises like
    ``count_request``."""
    if not credentials:
        return None
    try:
        async with runtime.db.session(read_only=True) as session:
            principal = await tokens.authenticate(session, credentials)
    except DomainError:
        return None
    return await count_request(runtime, principal)


async def _handle(
    session: Any,
    runtime: Runtime,
    call: Call,
    principal: Principal,
    arguments: BaseModel,
    rate: RateState,
    claimed: idempotency.Claim | None,
    audit_inline: bool,
    prepared: Any = None,
) -> tuple[Outcome, str | None]:
    """The handler inside ``session``'s transaction, bound to the caller's workspace;
    returns the outcome and the resource id the handler named (for the audit row)."""
    op = call.operation
    # the tenant safety net (ORM filter) and, on PostgreSQL, row-level security
    await use_tenant(session, principal.workspace_id)
    session.info[CURSOR_SCOPE] = list_scope(op.name, principal.workspace_id)  # binds cursors
    if isinstance(arguments, ListParams) and arguments.offset:
        session.info[PAGE_OFFSET] = arguments.offset  # a page-numbered request
    ctx = Context(
        session=session,
        principal=principal,
        channel=call.channel,
        request_id=call.request_id,
        settings=runtime.settings,
        db=runtime.db,
        now=utcnow(),
        prepared=prepared,
    )
    body = render(op, await op.handler(ctx, arguments))
    if claimed is not None:
        stored = _without_secrets(op, body)
        await idempotency.complete(session, principal, claimed, op.success_status, stored)
    if audit_inline:
        fields = _audit_fields(principal, call, op.success_status, "ok", ctx.resource_id)
        await audit.record(session, **fields)
        await tokens.touch_last_used(session, principal)
    body["request_id"] = call.request_id
    outcome = Outcome(op.success_status, body, call.request_id, _headers(rate))
    return outcome, ctx.resource_id


async def _fail(
    runtime: Runtime,
    call: Call,
    principal: Principal | None,
    rate: RateState | None,
    claimed: idempotency.Claim | None,
    error: DomainError,
) -> Outcome:
    try:
        if claimed is not None and principal is not None:
            await idempotency.release(runtime.db, principal, claimed)
        if principal is not None:
            await _audit(runtime, principal, call, error.status, error.code, None)
    except Exception:
        log.exception("could not audit failed request %s", call.request_id)
    headers = {**_headers(rate), **error.headers}
    return Outcome(error.status, error.body(call.request_id), call.request_id, headers, error)


def _without_secrets(op: Operation, body: dict[str, Any]) -> dict[str, Any]:
    """The body to keep for replays: ``extra["secret_fields"]`` (shown once) left out."""
    secret_fields = op.extra.get("secret_fields", ())
    data = body.get("data")
    if not secret_fields or not isinstance(data, dict):
        return body
    return {**body, "data": {k: v for k, v in data.items() if k not in secret_fields}}


def _headers(rate: RateState | None) -> dict[str, str]:
    return rate.headers() if rate is not None else {}


def _audit_fields(
    principal: Principal,
    call: Call,
    status: int,
    outcome: str,
    resource_id: str | None,
) -> dict[str, Any]:
    return {
        "workspace_id": principal.workspace_id,
        "token_id": principal.token_id or None,
        "token_name": principal.token_name,
        "channel": call.channel.value,
        "operation": call.operation.name,
        "status": status,
        "outcome": outcome,
        "request_id": call.request_id,
        "resource_id": resource_id,
        "path": call.path,
    }


async def _audit(
    runtime: Runtime,
    principal: Principal,
    call: Call,
    status: int,
    outcome: str,
    resource_id: str | None,
) -> None:
    """The audit row of a call whose own transaction is over (or never wrote): committed
    by the group-commit writer, together with concurrent calls' rows."""
    await runtime.audit.write(
        touch_token=tokens.needs_touch(principal),
        **_audit_fields(principal, call, status, outcome, resource_id),
    )


async def call_operation(
    runtime: Runtime,
    operation: Operation,
    *,
    credentials: str | None,
    channel: Channel,
    arguments: dict[str, Any],
    idempotency_key: str | None = None,
) -> Outcome:
    """Convenience wrapper for adapters whose arguments are already a JSON object."""

    async def load() -> dict[str, Any]:
        return arguments

    return await dispatch(
        runtime,
        Call(operation, credentials, channel, load, idempotency_key=idempotency_key),
    )
