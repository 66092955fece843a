"""Operation → tool: names, annotations, schemas, budgets and the toolset policy (no DB)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import MCPError

from core.config import Settings
from core.operations import Kind, Operation, ToolFilter
from core.registry import default_registry
from mcp_server.adapter import (
    DESCRIPTION_LIMIT,
    IDEMPOTENCY_KEY,
    OUTPUT_SCHEMA,
    tool_for,
    tool_json,
    tool_size_bytes,
)
from mcp_server.server import (
    DEFAULT_EXCLUDED_TOOLS,
    DEFAULT_TOOLSETS,
    ToolPolicy,
    decode_cursor,
    encode_cursor,
)

OPS = list(default_registry())


def _settings(**kw: Any) -> Settings:
    return Settings(database_url="sqlite:///unused.db", _env_file=None, **kw)  # type: ignore[call-arg]


def _schema_nodes(schema: Any) -> list[dict[str, Any]]:
    """Every schema node (not property-name maps) of a JSON schema."""
    nodes: list[dict[str, Any]] = []
    if not isinstance(schema, dict):
        return nodes
    nodes.append(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            for sub in value.values():
                nodes += _schema_nodes(sub)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            for sub in value:
                nodes += _schema_nodes(sub)
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            nodes += _schema_nodes(value)
    return nodes


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_tool_matches_operation(op: Operation) -> None:
    tool = tool_for(op)
    assert tool.name == op.name
    assert tool.title == op.summary
    assert tool.description and op.description.strip()[:40] in tool.description
    assert len(tool.description) <= DESCRIPTION_LIMIT
    assert tool.description.endswith(" Paged.") is op.paginated
    hints = tool.annotations
    assert hints is not None
    assert hints.read_only_hint is (op.kind is Kind.read)
    assert hints.open_world_hint is False
    if op.kind is not Kind.read:
        assert hints.destructive_hint is (op.kind is Kind.delete or op.destructive)
        assert hints.idempotent_hint is op.is_idempotent


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_input_schema(op: Operation) -> None:
    schema = tool_for(op).input_schema
    assert schema["type"] == "object"
    properties = schema["properties"]
    assert "workspace_id" not in properties
    assert (IDEMPOTENCY_KEY in properties) is (op.kind is not Kind.read)
    for name in op.input_model.model_fields:
        assert name in properties, f"{op.name}: argument {name} missing from the schema"
    for node in _schema_nodes(schema):
        assert "title" not in node, f"{op.name}: pydantic title left in {node}"
    if "$defs" not in schema:
        assert "$ref" not in json.dumps(schema)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_output_schema_is_the_envelope(op: Operation) -> None:
    # the envelope {data, request_id, next_cursor?} is the same for every tool: its keys
    # are required, the server instructions describe it once
    schema = tool_for(op).output_schema
    assert schema == OUTPUT_SCHEMA
    assert schema is not None and schema["type"] == "object"
    assert set(schema["required"]) == {"data", "request_id"}


def test_registry_invariants() -> None:
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))
    for op in OPS:
        assert tool_json(tool_for(op))["annotations"]["readOnlyHint"] is op.read_only


DEFAULT_LIST_TOKENS = 8_000
"""Goal: the default ``tools/list`` of an all-scopes token stays under this (bytes / 4)."""
MEAN_TOOL_TOKENS = 250
"""Goal: ≤ 250 tokens per tool on average over the default list."""
MAX_DEFAULT_TOOL_TOKENS = 380
"""Guard: no single default tool over this (the largest, update_task, is ~375).

The PATCH tools with many nullable fields and enums cannot reach 250 without dropping
arguments or enum values; this cap stops any tool from growing further.
"""
MAX_TOOL_TOKENS = 560
"""Guard for every tool, default or not (create_invoice with nested line items ~553)."""


def _tokens(op: Operation) -> float:
    return tool_size_bytes(tool_for(op)) / 4


def test_default_toolsets_budget() -> None:
    """The default selection: ≤ 40 tools, ≤ 8,000 tokens, ≤ 250 tokens a tool on average.

    Measured like bench/mcp_vs_rest.py: compact JSON of each tool as sent in
    ``tools/list``, bytes / 4 ≈ tokens. A description or schema that grows fails here.
    """
    listed = default_registry().visible(None, ToolPolicy().for_request())
    assert 0 < len(listed) <= 40, (
        f"{len(listed)} tools in the default selection {sorted(DEFAULT_TOOLSETS)}; move "
        "heavy toolsets or tools out of mcp_server.server.DEFAULT_TOOLSETS / DEFAULT_EXCLUDED_TOOLS"
    )
    assert "get_me" in {op.name for op in listed}
    sizes = {op.name: _tokens(op) for op in listed}
    total = sum(sizes.values())
    assert total <= DEFAULT_LIST_TOKENS, f"default tool list is ~{total:.0f} tokens"
    mean = total / len(sizes)
    assert mean <= MEAN_TOOL_TOKENS, f"default tools average ~{mean:.0f} tokens"
    over = {name: round(v) for name, v in sizes.items() if v > MAX_DEFAULT_TOOL_TOKENS}
    assert not over, f"default tools over {MAX_DEFAULT_TOOL_TOKENS} tokens: {over}"
    big = {op.name: round(_tokens(op)) for op in OPS if _tokens(op) > MAX_TOOL_TOKENS}
    assert not big, f"tools over {MAX_TOOL_TOKENS} tokens: {big}"


def test_every_toolset_reachable() -> None:
    """Tools left out of the default selection are one header / flag away."""
    registry = default_registry()
    default = {op.name for op in registry.visible(None, ToolPolicy().for_request())}
    assert "list_runs_of_workflow" not in default
    assert {"list_workflow_runs", "create_workflow", "trigger_workflow"} <= default
    every = {op.name for op in OPS}
    assert {op.name for op in registry.visible(None, ToolPolicy().for_request("all"))} == every
    for toolset in {op.toolset for op in OPS}:
        names = {op.name for op in OPS if op.toolset == toolset}
        listed = {op.name for op in registry.visible(None, ToolPolicy().for_request(toolset))}
        assert listed == names, toolset
    cli = ToolPolicy.from_settings(_settings(), toolsets="workflows").for_request()
    assert "list_runs_of_workflow" in {op.name for op in registry.visible(None, cli)}


def test_every_argument_is_described_briefly() -> None:
    """Tool descriptions ≤ 300 characters; every argument has a description, a short one
    (the recipe aside)."""
    for op in OPS:
        assert len(op.description) <= 300, f"{op.name}: {len(op.description)} characters"
        for name, prop in tool_for(op).input_schema["properties"].items():
            text = prop.get("description", "")
            assert text.strip(), f"{op.name}.{name} has no description"
            limit = 240 if name == "recipe" else 80
            assert len(text) <= limit, f"{op.name}.{name}: {len(text)} characters"


def test_compaction_rules() -> None:
    registry = default_registry()
    update_lead = tool_for(registry.get("update_lead")).input_schema["properties"]  # type: ignore[arg-type]
    assert update_lead["email"] == {
        "type": ["string", "null"],
        "format": "email",
        "description": "Email address.",
    }
    assert update_lead["status"]["type"] == "string"  # enum without null: null not offered
    assert update_lead["name"] == {"type": ["string", "null"], "description": "New name."}
    assert update_lead["custom_fields"]["additionalProperties"] == {
        "type": ["string", "number", "boolean", "null"]
    }
    assert "maxLength" not in update_lead["lead_id"]
    assert "title" in update_lead and update_lead["title"]["description"] == "Job title."


def test_policy_defaults_and_headers() -> None:
    policy = ToolPolicy.from_settings(_settings())
    assert policy.for_request().toolsets == DEFAULT_TOOLSETS
    assert policy.for_request().deny == DEFAULT_EXCLUDED_TOOLS
    assert policy.for_request("workspace").deny == frozenset()  # asked for: listed
    assert policy.for_request("all").toolsets is None
    assert policy.for_request("crm, tasks").toolsets == {"crm", "tasks"}
    assert policy.for_request(None, "true").read_only is True
    assert policy.for_request(None, "0").read_only is False


def test_policy_headers_cannot_widen_the_ceiling() -> None:
    policy = ToolPolicy.from_settings(_settings(mcp_toolsets="workspace", mcp_readonly=True))
    assert policy.for_request().toolsets == {"workspace"}
    assert policy.for_request("crm").toolsets == frozenset()
    assert policy.for_request("all").toolsets == {"workspace"}
    assert policy.for_request("workspace,crm").toolsets == {"workspace"}
    assert policy.for_request(None, "false").read_only is True


def test_policy_flags_allow_and_deny() -> None:
    settings = _settings(mcp_deny_tools="create_token", mcp_allow_tools="get_me,create_token")
    policy = ToolPolicy.from_settings(settings, toolsets="workspace", read_only=False)
    f = policy.for_request()
    registry = default_registry()
    assert [op.name for op in registry.visible(None, f)] == ["get_me"]
    ro = ToolPolicy.from_settings(_settings(), toolsets="all", read_only=True).for_request()
    assert ro.toolsets is None and ro.read_only
    assert all(op.read_only for op in registry.visible(None, ro))
    # flags narrow the settings' ceiling
    narrowed = ToolPolicy.from_settings(_settings(mcp_toolsets="workspace,crm"), toolsets="crm")
    assert narrowed.for_request().toolsets == {"crm"}
    assert isinstance(f, ToolFilter)


def test_cursor_round_trip_and_rejects_garbage() -> None:
    assert decode_cursor(encode_cursor(50)) == 50
    for bad in ("", "x", "dG9vbHM6LTE", encode_cursor(1)[:-1] + "!"):
        with pytest.raises(MCPError):
            decode_cursor(bad)
