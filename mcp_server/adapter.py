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
from collections.abc import Sequence
from typing import Any

import mcp_types as types
from pydantic import BaseModel

from core.fields import EMAIL_PATTERN
from core.operations import Kind, Operation, Registry
from core.pagination import REST_ONLY
from core.related import fill_related_types

DESCRIPTION_LIMIT = 600
IDEMPOTENCY_KEY = "idempotency_key"

IDEMPOTENCY_PROPERTY: dict[str, Any] = {"type": "string"}
"""Every write tool takes it; the server instructions say what it does (once, not per tool)."""
PRIVATE_PREFIX = "x-patchbay-"
"""Schema annotations meant for our builders (``OneLine``'s marker), not for a model."""
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
        if key == "title" or key.startswith(PRIVATE_PREFIX):
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
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]  # the JSON Schema default
    return out


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A compact, self-contained copy of a pydantic JSON schema."""
    schema = copy.deepcopy(schema)
    defs = schema.get("$defs", {})
    if defs:
        with contextlib.suppress(RecursiveSchema):  # recursive: keep $defs and refs
            schema = _inline_refs(schema, defs)
    return _simplify(schema)


# The paging arguments every list shares, written once and short: the server
# instructions explain them once instead of every list tool.
PAGING_PROPERTIES: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
    "cursor": {"type": "string"},
}
SHARED_ARGUMENTS = frozenset({*PAGING_PROPERTIES, IDEMPOTENCY_KEY})
"""Arguments described once in the server instructions rather than in each tool."""


def input_schema(op: Operation, related_types: Sequence[str] = ()) -> dict[str, Any]:
    """The tool's input schema: the operation's input model plus ``idempotency_key``.

    Optional arguments are simply omitted, so ``null`` is only offered where it means
    something (PATCH: clear the field).
    """
    raw = fill_related_types(op.input_model.model_json_schema(mode="validation"), related_types)
    raw["properties"] = {  # REST-only spellings (after, page): the tools page with cursor
        name: prop for name, prop in raw.get("properties", {}).items() if not prop.get(REST_ONLY)
    }
    schema = compact_schema(raw)
    schema["type"] = "object"
    properties = schema.setdefault("properties", {})
    required = set(schema.get("required", ()))
    for name, prop in properties.items():
        if name.endswith(ID_SUFFIX):
            prop.pop("maxLength", None)
            if name in op.path_params:
                prop.pop("description", None)  # get_contact's contact_id says it all
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


Readers = dict[type[BaseModel], str]
"""Record model → the read tool that returns it (``readers(registry)``)."""


def readers(registry: Registry) -> Readers:
    """For each record model some read tool returns: that tool (a get before a list)."""
    found: Readers = {}
    for op in sorted(registry, key=lambda o: o.paginated):
        if op.read_only and op.mcp_tool:
            found.setdefault(op.output_model, op.name)
    return found


def output_schema(op: Operation, records: Readers | None = None) -> dict[str, Any]:
    """The success envelope with what ``data`` holds, from the operation's output model.

    ``data`` is the record (its fields with their types and enum values) or, for lists,
    an array of records beside ``next_cursor``. Compacted for the context window:

    - a record that another read tool returns (``records``: a create or update answers
      the contact that ``get_contact`` reads; convert_lead's contact, company and deal)
      is typed as an object with its ``id``, pointing at that tool for the other fields
      rather than repeating them in every tool;
    - responses omit empty optional fields, so no field is typed as nullable and no
      ``required`` list is kept inside records; ``format``, defaults and the models'
      docstrings are dropped (timestamps are ISO-8601 strings, as the server
      instructions say); ``request_id`` is required but not described.
    """
    records = {k: v for k, v in (records or {}).items() if v != op.name}
    record = _output_record(op.output_model, records)
    if op.paginated:
        return {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": record},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["data", "next_cursor", "request_id"],
        }
    return {"type": "object", "properties": {"data": record}, "required": ["data", "request_id"]}


def _reference(model: type[BaseModel], reader: str) -> dict[str, Any]:
    """A record typed by reference: an object with its id, the rest as ``reader`` says."""
    schema: dict[str, Any] = {"type": "object", "description": f"Fields as {reader} returns."}
    if "id" in model.model_fields:
        schema["properties"] = {"id": {"type": "string"}}
    return schema


def _output_record(model: type[BaseModel], records: Readers) -> dict[str, Any]:
    if model in records:
        return _reference(model, records[model])
    raw = model.model_json_schema(mode="serialization")
    raw.pop("description", None)  # docstrings: the tool description says what comes back
    by_name = {m.__name__: (m, reader) for m, reader in records.items()}
    for name, definition in raw.get("$defs", {}).items():
        definition.pop("description", None)
        if name in by_name:
            raw["$defs"][name] = _reference(*by_name[name])
    schema = _output_node(compact_schema(raw))
    base = next((b for b in model.__mro__[1:] if b in records), None)
    if base is not None:  # an extension of a record another tool returns: only what it adds
        extra = {
            name: prop
            for name, prop in schema.get("properties", {}).items()
            if name == "id" or name not in base.model_fields
        }
        schema = {**_reference(base, records[base]), "properties": extra}
        schema["description"] = f"Fields as {records[base]} returns, and these."
    return schema


def _output_node(node: Any, *, field: bool = False) -> Any:
    """Output-side compaction of one (already compacted) schema node; ``field``: the node
    is a model field's, whose null the response omits (null items of lists and values of
    maps are sent as they are)."""
    if isinstance(node, list):
        return [_output_node(item, field=field) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("format", "default", "examples"):
            continue
        if key == "required" and "properties" in node:
            continue
        if key == "additionalProperties" and value is True:
            continue
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {
                name: _output_node(sub, field=key == "properties") for name, sub in value.items()
            }
        elif key in _SCHEMA_LIST_KEYS + _SCHEMA_KEYS and isinstance(value, dict | list):
            out[key] = _output_node(value)
        else:
            out[key] = value
    values = out.get("enum")
    if out.get("type") == "string" and isinstance(values, list):
        del out["type"]  # the enum says it all
    if not field:
        return out
    kind = out.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [k for k in kind if k != "null"]
        out["type"] = rest[0] if len(rest) == 1 else rest
    variants = out.get("anyOf")
    if isinstance(variants, list):
        kept = [v for v in variants if v != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out = {**kept[0], **out}
        elif len(kept) != len(variants):
            out["anyOf"] = kept
    return out


def describe(op: Operation) -> str:
    """The tool description: the operation's own text.

    The scope is not repeated: ``tools/list`` only shows tools the token's scopes allow,
    and a ``scope_missing`` error names the scope.
    """
    text = op.description.strip()
    if len(text) > DESCRIPTION_LIMIT:
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    return text


def annotations(op: Operation) -> types.ToolAnnotations:
    """Read-only, destructive, idempotent and closed-world hints from the declaration.

    Sent explicitly (not left to the MCP defaults) so every client shows them.
    """
    if op.read_only:  # the other hints only mean something for tools that write
        return types.ToolAnnotations(read_only_hint=True, open_world_hint=op.open_world)
    return types.ToolAnnotations(
        read_only_hint=False,
        destructive_hint=op.is_destructive,
        idempotent_hint=op.is_idempotent,
        open_world_hint=op.open_world,
    )


class Toolbox:
    """The MCP tools of one registry's operations, built once each."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.readers = readers(registry)
        self._tools: dict[str, types.Tool] = {}

    def tool(self, op: Operation) -> types.Tool:
        """The MCP tool of ``op`` (cached: operations are immutable)."""
        tool = self._tools.get(op.name)
        if tool is None:
            tool = self._tools[op.name] = types.Tool(
                name=op.name,
                title=op.summary,
                description=describe(op),
                input_schema=input_schema(op, self.registry.related_types),
                output_schema=output_schema(op, self.readers),
                annotations=annotations(op),
            )
        return tool


_TOOLBOXES: dict[int, tuple[Registry, Toolbox]] = {}


def toolbox(registry: Registry) -> Toolbox:
    """The (cached) toolbox of ``registry``."""
    cached = _TOOLBOXES.get(id(registry))
    if cached is None or cached[0] is not registry:
        cached = _TOOLBOXES[id(registry)] = (registry, Toolbox(registry))
    return cached[1]


def tool_for(op: Operation, registry: Registry) -> types.Tool:
    """The MCP tool of ``op`` within ``registry``."""
    return toolbox(registry).tool(op)


def tool_json(tool: types.Tool) -> dict[str, Any]:
    """The tool as it goes over the wire (camelCase, no nulls)."""
    return tool.model_dump(by_alias=True, exclude_none=True, mode="json")


def tool_size_bytes(tool: types.Tool) -> int:
    """Size of the tool's compact JSON, the unit of the token budget (bytes / 4)."""
    return len(json.dumps(tool_json(tool), separators=(",", ":")).encode())
