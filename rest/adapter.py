"""Operation → FastAPI route. Transport only: every check happens in ``core.gateway``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.errors import (
    DomainError,
    MalformedJSON,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.gateway import Call, Outcome, dispatch, new_request_id
from core.operations import Channel, Kind, Operation
from core.runtime import Runtime
from mcp_server.auth import bearer_credentials

API_PREFIX = "/api/v1"
QUERY_METHODS = frozenset({"GET", "DELETE"})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None (the parser ``/mcp``
    uses too)."""
    return bearer_credentials(request.headers.get("authorization"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing anything over ``max_bytes`` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def check_json_media_type(content_type: str | None, raw: bytes) -> None:
    """A body must be declared ``application/json`` (UTF-8, the only charset JSON has:
    RFC 8259); a request without a body needs no type. Raises 415 otherwise."""
    if not raw and not content_type:
        return
    media_type, _, params = (content_type or "").partition(";")
    charset = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in params.split(";"))
            if name.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media_type.strip().lower() != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"Send the body as JSON in UTF-8 (Content-Type: application/json), not "
            f"{content_type or 'without a Content-Type'}."
        )


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object body (empty body = ``{}``); raise a domain error otherwise
    (``json.loads`` of bytes would also take UTF-16 and UTF-32)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise MalformedJSON("The request body is not valid UTF-8.") from None
    except (ValueError, RecursionError) as exc:
        raise MalformedJSON(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return value


def query_arguments(request: Request) -> dict[str, Any]:
    """Query parameters as single values; a repeated parameter is a validation error.

    Parsed strictly: bytes that are not UTF-8 (raw or percent-encoded) are a 400, not
    silently replaced by U+FFFD as ``request.query_params`` would.
    """
    raw: bytes = request.scope.get("query_string", b"")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ValidationFailed("The query string is not valid UTF-8.") from None
    args: dict[str, Any] = {}
    for key, value in pairs:
        if key in args:
            raise ValidationFailed(f"Query parameter '{key}' was given more than once.")
        args[key] = value
    return args


def render_outcome(outcome: Outcome) -> Response:
    """The HTTP response for a gateway outcome."""
    headers = {**outcome.headers, "X-Request-Id": outcome.request_id}
    if outcome.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="patchbay", error="invalid_token"'
    return Response(
        json.dumps(outcome.body, separators=(",", ":")),
        status_code=outcome.status,
        headers=headers,
        media_type="application/json",
    )


def error_response(error: DomainError, request_id: str | None = None) -> Response:
    """An envelope response for errors raised outside ``dispatch`` (routing, 404)."""
    request_id = request_id or new_request_id()
    return render_outcome(
        Outcome(error.status, error.body(request_id), request_id, dict(error.headers), error)
    )


BODY_IDEMPOTENCY_KEY = "idempotency_key"
"""A write's idempotency key may also travel in its JSON body (as the MCP argument)."""


def make_endpoint(runtime: Runtime, op: Operation) -> Any:
    """The route handler for one operation."""
    max_bytes = runtime.settings.max_body_bytes
    uses_query = op.method in QUERY_METHODS
    is_write = op.kind is not Kind.read

    async def endpoint(request: Request) -> Response:
        header_key = request.headers.get("idempotency-key")
        body: dict[str, Any] | DomainError = {}
        if not uses_query:
            # Read before the gate so a key in the body can choose the idempotent path;
            # a bad body is only reported after authentication, like any argument error.
            try:
                raw = await read_body(request, max_bytes)
                check_json_media_type(request.headers.get("content-type"), raw)
                body = parse_json_object(raw)
            except DomainError as error:
                body = error
        body_has_key = is_write and isinstance(body, dict) and BODY_IDEMPOTENCY_KEY in body
        body_key = body.pop(BODY_IDEMPOTENCY_KEY) if body_has_key else None  # type: ignore[union-attr]

        async def load_arguments() -> dict[str, Any]:
            if uses_query:
                args = query_arguments(request)
            elif isinstance(body, DomainError):
                raise body
            else:
                args = dict(body)
            if body_has_key:
                if not isinstance(body_key, str):
                    raise ValidationFailed("idempotency_key must be a string.")
                if header_key is not None and header_key != body_key:
                    raise ValidationFailed(
                        "The Idempotency-Key header and the body's idempotency_key differ; "
                        "send one key.",
                        code="idempotency_key_mismatch",
                    )
            for name, value in request.path_params.items():
                if name in args and args[name] != value:  # 003 repeats ids in the query
                    raise ValidationFailed(
                        f"{name} is given in the path and differs in the request; "
                        "send the same value or leave it out."
                    )
            args.update(request.path_params)
            return args

        call = Call(
            operation=op,
            credentials=bearer_token(request),
            channel=Channel.rest,
            load_arguments=load_arguments,
            strings=uses_query,
            path=request.scope.get("path"),
            idempotency_key=header_key
            if header_key is not None
            else (body_key if isinstance(body_key, str) else None),
        )
        outcome = await dispatch(runtime, call)
        if op.paginated and outcome.ok:
            next_cursor = outcome.body.get("next_cursor")
            outcome.body["pagination"] = {
                "has_more": next_cursor is not None,
                "next_cursor": next_cursor,
            }
        return render_outcome(outcome)

    endpoint.__name__ = op.name
    return endpoint


def build_routes(runtime: Runtime) -> list[Route]:
    """One route per registry operation under ``/api/v1``.

    Plain Starlette routes: the adapter parses and validates input itself (through the
    gate), so FastAPI's per-request dependency and body machinery would only add cost.
    """
    return [
        Route(API_PREFIX + op.path, make_endpoint(runtime, op), methods=[op.method], name=op.name)
        for op in runtime.registry
    ]
