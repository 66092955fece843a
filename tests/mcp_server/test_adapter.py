"""Operation → tool: names, annotations, schemas, budgets and the toolset policy (no DB)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import MCPError

from core.config import Settings
from core.operations import ANY_SCOPE, Kind, Operation, ToolFilter
from core.registry import default_registry
from mcp_server.adapter import (
    DESCRIPTION_LIMIT,
    IDEMPOTENCY_KEY,
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
    assert (op.scope in tool.description) or op.scope == ANY_SCOPE
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
    schema = tool_for(op).output_schema
    assert schema is not None
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"data", "request_id"}
    assert ("next_cursor" in schema["properties"]) is op.paginated
    data = schema["properties"]["data"]
    assert data["type"] == ("array" if op.paginated else "object")


def test_registry_invariants() -> None:
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))
    for op in OPS:
        assert tool_json(tool_for(op))["annotations"]["readOnlyHint"] is op.read_only


def test_default_toolsets_budget() -> None:
    """An all-scopes token on the default selection lists ≤ 40 tools.

    Size guards (bytes/4 ≈ tokens) catch regressions; the goals (≤ 250 per tool, ≤ 8k
    for the default list) are measured by bench/mcp_vs_rest.py.
    """
    listed = default_registry().visible(None, ToolPolicy().for_request())
    assert 0 < len(listed) <= 40, (
        f"{len(listed)} tools in the default selection {sorted(DEFAULT_TOOLSETS)}; move "
        "heavy toolsets or tools out of mcp_server.server.DEFAULT_TOOLSETS / DEFAULT_EXCLUDED_TOOLS"
    )
    assert "get_me" in {op.name for op in listed}
    total = sum(tool_size_bytes(tool_for(op)) for op in listed)
    assert total / 4 <= 12_000, f"default tool list is ~{total // 4} tokens"
    for op in OPS:
        assert tool_size_bytes(tool_for(op)) / 4 <= 800, f"{op.name} is over 800 tokens"


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
