"""What the OpenAPI document adds to the models' JSON schemas: the constraints the gate
enforces on every string, and links from each create to the operations taking its id.

- Every input string without a format, enum or pattern of its own gets a ``pattern``
  refusing U+0000 (PostgreSQL text cannot hold it); a ``OneLine`` field (its schema
  carries ``core.fields.ONE_LINE_MARKER``) gets one refusing line breaks and control
  characters. The gate refuses both with 400 ``validation_error``.
- ``links`` (OpenAPI 3.1 §4.8.20) chain a create to every operation whose path or query
  parameter is the id it returns, so clients and stateful testers can follow
  create → get / update / delete / list.
"""

from __future__ import annotations

from typing import Any

from core.fields import ONE_LINE_MARKER
from core.operations import Operation, Registry
from core.related import MARKER as RELATED_MARKER

NO_NUL = r"^[^\u0000]*$"
SINGLE_LINE = r"^[^\u0000-\u001f\u007f\u0085\u2028\u2029]*$"
IDEMPOTENCY_KEY = r"^[\u0020-\u007e]{1,255}$"
"""1-255 printable ASCII characters (``core.idempotency.check_key``)."""

JSON_VALUE = "JsonValue"
JSON_VALUE_REF = {"$ref": f"#/components/schemas/{JSON_VALUE}"}
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value; no string or key in it holds U+0000.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": JSON_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        },
    ],
}
"""The component free-form JSON (recipes, inputs, payloads, custom fields) refers to."""


def harden_strings(schema: dict[str, Any]) -> None:
    """Add the gate's string rules to ``schema`` in place (properties, items, unions, defs)."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        one_line = bool(node.pop(ONE_LINE_MARKER, False))
        if (
            node.get("type") == "string"
            and not {"enum", "const", "pattern", RELATED_MARKER} & set(node)
            and node.get("format") not in ("date-time", "date")  # those hold no NUL anyway
        ):
            node["pattern"] = SINGLE_LINE if one_line else NO_NUL
        stack.extend(node.get("properties", {}).values())
        stack.extend(node.get("$defs", {}).values())
        for union in ("anyOf", "oneOf", "allOf"):
            stack.extend(node.get(union, []))
        if "items" in node:
            stack.append(node["items"])
        if node.get("additionalProperties") is True:  # free-form JSON: no NUL inside
            node["propertyNames"] = {"pattern": NO_NUL}
            node["additionalProperties"] = dict(JSON_VALUE_REF)
        elif isinstance(node.get("additionalProperties"), dict):
            stack.append(node["additionalProperties"])


_LINK = ("related_resource_type", "related_resource_id")


def _given(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": "string"}}}


def pair_links(body: dict[str, Any]) -> None:
    """A create body with ``related_resource_type`` and ``related_resource_id`` takes both
    or neither (``core.related.check_related``): declared with if/then, in place."""
    if set(_LINK) <= set(body.get("properties", {})):
        first, second = _LINK
        body["allOf"] = [
            {"if": _given(first), "then": _given(second)},
            {"if": _given(second), "then": _given(first)},
        ]


def _singular(segment: str) -> str:
    word = segment.replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") else word


def created_id_param(op: Operation) -> str | None:
    """The parameter name of the id a create returns (``POST /contacts`` → ``contact_id``,
    ``POST /workflows/{workflow_id}/runs`` → ``run_id``; an operation's
    ``extra["created_id"]`` names it otherwise: ``POST /webhooks/{webhook_id}/test`` →
    ``delivery_id``), or None for other operations."""
    if op.method != "POST" or op.success_status not in (201, 202):
        return None
    if "id" not in op.output_model.model_fields:
        return None
    if "created_id" in op.extra:  # an action that creates a record of another name
        return str(op.extra["created_id"])
    last = op.path.rstrip("/").rsplit("/", 1)[-1]
    return None if last.startswith("{") else _singular(last) + "_id"


def links(registry: Registry) -> dict[str, dict[str, Any]]:
    """``{create operation: {link name: link}}`` for every create whose id another
    operation takes as a path or query parameter."""
    result: dict[str, dict[str, Any]] = {}
    for creator in registry:
        param = created_id_param(creator)
        if param is None:
            continue
        found: dict[str, Any] = {}
        for target in registry:
            if param in target.path_params:
                where = "path"
            elif target.method == "GET" and param in target.input_model.model_fields:
                where = "query"
            else:
                continue
            parameters = {f"{where}.{param}": "$response.body#/data/id"}
            for other in target.path_params:  # e.g. the workflow of a run's siblings
                if other != param and other in creator.path_params:
                    parameters[f"path.{other}"] = f"$request.path.{other}"
            if set(target.path_params) <= {k.split(".", 1)[1] for k in parameters}:
                found[target.name] = {
                    "operationId": target.operation_id,
                    "parameters": parameters,
                    "description": f"The {param} this call returned, to {target.summary.lower()}.",
                }
        if found:
            result[creator.name] = found
    return result
