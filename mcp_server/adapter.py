"""Operation → MCP tool: name, description, compact schemas and honest annotations.

Everything here is derived from the ``Operation`` declaration, so REST and MCP never
drift. Schemas are compacted for the model's context window: pydantic ``title`` keys
are dropped, ``$ref``s are inlined (unless a model is recursive), ``Optional[X]`` is
written as ``{"type": [X, "null"]}`` and ``default: null`` is omitted. Every argument
keeps its description (tests/mcp_server/test_adapter.py checks it).
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import mcp_types as types

from core.crm.schemas import EMAIL_PATTERN
from core.operations import Kind, Operation

DESCRIPTION_LIMIT = 600
IDEMPOTENCY_KEY = "idempotency_key"

IDEMPOTENCY_PROPERTY: dict[str, Any] = {
    "type": "string",
    "description": "Retry key; a repeat returns the first result.",
}
HUGE = 10**9
"""``maximum`` at or above this says nothing useful to a model and is left out too."""
LOOSE_MAX_LENGTH = 100
"""``maxLength`` at or above this is left out of tool schemas (the server still enforces it)."""
ID_SUFFIX = "_id"
"""Arguments named ``*_id`` carry record ids: their ``maxLength`` tells a model nothing."""

# Keys of a JSON Schema whose values are schemas / maps of schemas / lists of schemas.
_SCHEMA_KEYS = ("items", "additionalProperties", "not", "contains", "propertyNames")
_SCHEMA_MAP_KEYS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")


class RecursiveSchema(Exception):
    """A ``$ref`` refers to itself; keep ``$defs`` instead of inlining."""


def _inline_refs(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            raise RecursiveSchema(name)
        target = _inline_refs(defs[name], defs, (*seen, name))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_inline_refs(siblings, defs, seen)}
    return {k: _inline_refs(v, defs, seen) for k, v in node.items() if k != "$defs"}


def _bare_types(variants: list[Any]) -> bool:
    """True if every variant is just ``{"type": "<name>"}`` (and there are several)."""
    return len(variants) > 1 and all(
        isinstance(v, dict) and set(v) == {"type"} and isinstance(v["type"], str) for v in variants
    )


def _simplify(schema: Any) -> Any:
    """Drop titles and null defaults, fold ``anyOf [X, null]`` into a type list."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key == "default" and value is None:
            continue
        if key == "maxLength" and isinstance(value, int) and value >= LOOSE_MAX_LENGTH:
            continue
        if key == "minLength" and value == 1:
            continue
        if key == "maximum" and isinstance(value, int) and value >= HUGE:
            continue
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {name: _simplify(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_simplify(sub) for sub in value]
        elif key in _SCHEMA_KEYS and isinstance(value, dict):
            out[key] = _simplify(value)
        else:
            out[key] = value
    variants = out.get("anyOf")
    if isinstance(variants, list) and _bare_types(variants):
        # anyOf [{type: string}, {type: integer}, ...] → type: [string, integer, ...]
        kinds = [v["type"] for v in variants]
        if "number" in kinds and "integer" in kinds:
            kinds.remove("integer")  # every integer is a number
        del out["anyOf"]
        out["type"] = kinds[0] if len(kinds) == 1 else kinds
        variants = None
    if isinstance(variants, list) and len(variants) == 2 and {"type": "null"} in variants:
        other = next(v for v in variants if v != {"type": "null"})
        if isinstance(other.get("type"), str) and not (set(other) & set(out) - {"anyOf"}):
            del out["anyOf"]
            merged = {**other, **out}
            merged["type"] = [other["type"], "null"]
            out = merged
    kind, values = out.get("type"), out.get("enum")
    if (
        isinstance(kind, list)
        and "null" in kind
        and isinstance(values, list)
        and None not in values
    ):
        rest = [k for k in kind if k != "null"]  # null fails the enum anyway: don't offer it
        out["type"] = rest[0] if len(rest) == 1 else rest
    if out.get("pattern") == EMAIL_PATTERN:  # a regex tells a model less than this
        del out["pattern"]
        out["format"] = "email"

    if out.get("additionalProperties") is False:
        del out["additionalProperties"]  # implied: unknown arguments fail validation
    return out


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A compact, self-contained copy of a pydantic JSON schema."""
    schema = copy.deepcopy(schema)
    defs = schema.get("$defs", {})
    if defs:
        with contextlib.suppress(RecursiveSchema):  # recursive: keep $defs and refs
            schema = _inline_refs(schema, defs)
    return _simplify(schema)


# The paging arguments every list shares, written once and short.
PAGING_PROPERTIES: dict[str, dict[str, Any]] = {
    "limit": {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 25,
        "description": "Page size.",
    },
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
}


OUTPUT_SCHEMA: dict[str, Any] = {"type": "object", "required": ["data", "request_id"]}


def input_schema(op: Operation) -> dict[str, Any]:
    """The tool's input schema: the operation's input model plus ``idempotency_key``.

    Optional arguments are simply omitted, so ``null`` is only offered where it means
    something (PATCH: clear the field).
    """
    schema = compact_schema(op.input_model.model_json_schema(mode="validation"))
    schema["type"] = "object"
    properties = schema.setdefault("properties", {})
    required = set(schema.get("required", ()))
    for name, prop in properties.items():
        if name.endswith(ID_SUFFIX):
            prop.pop("maxLength", None)
        kind = prop.get("type")
        if op.method != "PATCH" and name not in required and isinstance(kind, list):
            rest = [k for k in kind if k != "null"]
            prop["type"] = rest[0] if len(rest) == 1 else rest
    if op.paginated:
        for name, compact in PAGING_PROPERTIES.items():
            if name in properties:
                properties[name] = dict(compact)
    if op.kind is not Kind.read:
        properties[IDEMPOTENCY_KEY] = dict(IDEMPOTENCY_PROPERTY)
    return schema


def output_schema(op: Operation) -> dict[str, Any]:
    """The success envelope: an object with ``data`` and ``request_id`` (lists add
    ``next_cursor``).

    Written as ``required`` keys only: every tool answers the same envelope, the server
    instructions describe it and each description says what ``data`` holds, so typing
    each key per tool cost ~25 tokens a tool for nothing a model could use.
    """
    return copy.deepcopy(OUTPUT_SCHEMA)


def describe(op: Operation) -> str:
    """The tool description: the operation's own text, plus "Paged." for lists.

    The scope is not repeated: ``tools/list`` only shows tools the token's scopes allow,
    and a ``scope_missing`` error names the scope.
    """
    text = op.description.strip()
    if op.paginated:
        text += " Paged."
    if len(text) > DESCRIPTION_LIMIT:
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    return text


def annotations(op: Operation) -> types.ToolAnnotations:
    """Read-only, destructive, idempotent and closed-world hints from the declaration.

    Sent explicitly (not left to the MCP defaults) so every client shows them.
    """
    if op.read_only:  # the other hints only mean something for tools that write
        return types.ToolAnnotations(read_only_hint=True, open_world_hint=False)
    return types.ToolAnnotations(
        read_only_hint=False,
        destructive_hint=op.is_destructive,
        idempotent_hint=op.is_idempotent,
        open_world_hint=False,
    )


_TOOLS: dict[int, tuple[Operation, types.Tool]] = {}


def tool_for(op: Operation) -> types.Tool:
    """The MCP tool of an operation (cached: operations are immutable)."""
    cached = _TOOLS.get(id(op))
    if cached is not None and cached[0] is op:
        return cached[1]
    tool = _build_tool(op)
    _TOOLS[id(op)] = (op, tool)
    return tool


def _build_tool(op: Operation) -> types.Tool:
    return types.Tool(
        name=op.name,
        title=op.summary,
        description=describe(op),
        input_schema=input_schema(op),
        output_schema=output_schema(op),
        annotations=annotations(op),
    )


def tool_json(tool: types.Tool) -> dict[str, Any]:
    """The tool as it goes over the wire (camelCase, no nulls)."""
    return tool.model_dump(by_alias=True, exclude_none=True, mode="json")


def tool_size_bytes(tool: types.Tool) -> int:
    """Size of the tool's compact JSON, the unit of the token budget (bytes / 4)."""
    return len(json.dumps(tool_json(tool), separators=(",", ":")).encode())
