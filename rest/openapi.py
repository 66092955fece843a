"""The OpenAPI 3.1 document of exactly what is implemented, generated from the registry."""

from __future__ import annotations

import copy
from typing import Any

from core.errors import DomainError
from core.operations import ANY_READ_SCOPE, ANY_SCOPE, Kind, Operation, Registry
from core.related import fill_related_types
from rest.adapter import API_PREFIX, QUERY_METHODS
from rest.openapi_rules import (
    IDEMPOTENCY_KEY,
    JSON_VALUE,
    JSON_VALUE_SCHEMA,
    harden_strings,
    links,
    pair_links,
)

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Validation error: malformed JSON, wrong types, unknown fields, bad cursor.",
    401: "Missing, invalid, expired or revoked bearer token.",
    403: "Missing scope, missing channel ability, plan or module not entitled.",
    404: "Not found (also for ids of other workspaces).",
    409: "Conflict with the current state.",
    413: "Request body too large.",
    415: "The body is not declared as application/json (UTF-8).",
    422: "Semantic validation failure, or Idempotency-Key reused with another body.",
    429: "Rate limit or daily cap reached; see Retry-After.",
    500: "Internal error; quote the request id.",
    503: "The rate limiter's store (Redis) is unreachable; see Retry-After.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("X-RateLimit-Limit", "Requests allowed per minute for this token."),
        ("X-RateLimit-Remaining", "Requests left in the current window."),
        ("X-RateLimit-Reset", "Unix time when the window resets."),
    )
}


def _schema(model: Any, mode: str, components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    if mode == "validation":
        harden_strings(schema)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def _error_statuses(op: Operation) -> list[int]:
    statuses = {400, 401, 403, 429, 500, 503}
    if op.path_params:
        statuses.add(404)
    if op.kind is not Kind.read:
        statuses |= {409, 422}
        if op.method not in QUERY_METHODS:
            statuses |= {413, 415}
    for err in op.errors:
        if isinstance(err, type) and issubclass(err, DomainError):
            statuses.add(err.status)
    return sorted(statuses)


def _operation(
    op: Operation, components: dict[str, Any], links: dict[str, Any] | None = None
) -> dict[str, Any]:
    input_schema = _schema(op.input_model, "validation", components)
    properties: dict[str, Any] = input_schema.get("properties", {})
    required = set(input_schema.get("required", []))
    parameters: list[dict[str, Any]] = []
    for name in op.path_params:
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": properties[name].get("description", name),
                "schema": properties[name],
            }
        )
    entry: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": f"{op.description}\n\nRequired scope: `{op.scope}`.",
        "tags": [op.toolset],
        "x-required-scope": None if op.scope == ANY_SCOPE else op.scope,
        **({"x-any-read-scope": True} if op.scope == ANY_READ_SCOPE else {}),
        "security": [{"bearerAuth": []}],
    }
    body_props = {k: v for k, v in properties.items() if k not in op.path_params}
    if op.method in QUERY_METHODS:
        for name, prop in body_props.items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "description": prop.get("description", name),
                    "schema": prop,
                }
            )
    else:
        body = {k: v for k, v in input_schema.items() if k not in {"properties", "required"}}
        body["type"] = "object"
        body["properties"] = body_props
        body["additionalProperties"] = False
        body_required = sorted(required - set(op.path_params))
        if body_required:
            body["required"] = body_required
        if op.kind is not Kind.read:
            body["properties"]["idempotency_key"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": IDEMPOTENCY_KEY,
                "description": "The Idempotency-Key header's value, sent in the body instead "
                "(both given must be equal).",
            }
        if op.method == "POST":
            pair_links(body)
        entry["requestBody"] = {
            "required": bool(body_required),
            "content": {"application/json": {"schema": body}},
        }
    if op.kind is not Kind.read:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Stable key for safe retries of the same write (kept 24 h).",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": IDEMPOTENCY_KEY,
                },
            }
        )
    if parameters:
        entry["parameters"] = parameters
    output_ref = {"$ref": REF.format(model=_register(op.output_model, components))}
    data = {"type": "array", "items": output_ref} if op.paginated else output_ref
    envelope: dict[str, Any] = {
        "type": "object",
        "required": ["data", "request_id"],
        "properties": {"data": data, "request_id": {"type": "string"}},
    }
    if op.paginated:
        envelope["required"].append("next_cursor")
        envelope["properties"]["next_cursor"] = {"type": ["string", "null"]}
        envelope["required"].append("pagination")
        envelope["properties"]["pagination"] = {
            "type": "object",
            "required": ["has_more", "next_cursor"],
            "properties": {
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": ["string", "null"]},
            },
        }
    responses: dict[str, Any] = {
        str(op.success_status): {
            "description": op.summary,
            "headers": copy.deepcopy(_RATE_HEADERS),
            "content": {"application/json": {"schema": envelope}},
        }
    }
    if links:
        responses[str(op.success_status)]["links"] = links
    for status in _error_statuses(op):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    entry["responses"] = responses
    return entry


def _register(model: Any, components: dict[str, Any]) -> str:
    name = model.__name__
    if name not in components:
        components[name] = _schema(model, "serialization", components)
    return name


def build_openapi(registry: Registry, *, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every operation in ``registry``."""
    components: dict[str, Any] = {
        JSON_VALUE: JSON_VALUE_SCHEMA,
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable snake_case code."},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }
            },
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    created = links(registry)
    for op in registry:
        paths.setdefault(API_PREFIX + op.path, {})[op.method.lower()] = _operation(
            op, components, created.get(op.name)
        )
    error_responses = {
        f"E{status}": {
            "description": text,
            "headers": copy.deepcopy(_RETRY_AFTER) if status in (429, 503) else {},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status, text in _ERROR_TEXT.items()
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Patchbay API",
            "version": "1.0.0",
            "description": (
                "Programmable CRM and automation platform. Bearer token auth; every response "
                "uses the {data, request_id} / {error} envelope; lists use keyset cursors."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": error_responses,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    fill_related_types(document, registry.related_types)  # the enum the domains declare
    return document
