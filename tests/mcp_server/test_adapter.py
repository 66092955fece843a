"""Operation → tool: names, annotations, schemas, budgets and the toolset policy (no DB)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import MCPError

from core.config import Settings
from core.operations import Kind, Operation, ToolFilter
from core.pagination import REST_ONLY
from mcp_server.adapter import (
    DESCRIPTION_LIMIT,
    IDEMPOTENCY_KEY,
    SHARED_ARGUMENTS,
    tool_for,
    tool_json,
    tool_size_bytes,
)
from mcp_server.server import (
    ToolPolicy,
    UnknownToolsets,
    decode_cursor,
    encode_cursor,
    instructions,
    parse_toolsets,
)
from patchbay.domains import platform

REGISTRY = platform().registry
OPS = [op for op in REGISTRY if op.mcp_tool]


def tool(op: Operation | None) -> Any:
    assert op is not None
    return tool_for(op, REGISTRY)


DEFAULT_TOOLSETS = platform().registry.default_toolsets


def _policy(**kw: Any) -> ToolPolicy:
    return ToolPolicy.from_settings(_settings(**kw), platform().registry)


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
    built = tool(op)
    assert built.name == op.name
    assert built.title == op.summary
    assert built.description and op.description.strip()[:40] in built.description
    assert len(built.description) <= DESCRIPTION_LIMIT
    hints = built.annotations
    assert hints is not None
    assert hints.read_only_hint is (op.kind is Kind.read)
    assert hints.open_world_hint is op.open_world
    if op.kind is not Kind.read:
        assert hints.destructive_hint is (op.kind is Kind.delete or op.destructive)
        assert hints.idempotent_hint is op.is_idempotent


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_input_schema(op: Operation) -> None:
    schema = tool(op).input_schema
    assert schema["type"] == "object"
    properties = schema["properties"]
    assert "workspace_id" not in properties
    assert (IDEMPOTENCY_KEY in properties) is (op.kind is not Kind.read)
    for name, info in op.input_model.model_fields.items():
        if (info.json_schema_extra or {}).get(REST_ONLY):  # after, page: the tools use cursor
            assert name not in properties
            continue
        assert name in properties, f"{op.name}: argument {name} missing from the schema"
    for node in _schema_nodes(schema):
        assert "title" not in node, f"{op.name}: pydantic title left in {node}"
    if "$defs" not in schema:
        assert "$ref" not in json.dumps(schema)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_output_schema_types_data(op: Operation) -> None:
    """The envelope's keys are required and ``data`` is typed: a record's fields, a list
    of them beside next_cursor, or a reference to the read tool that returns the record."""
    schema = tool(op).output_schema
    assert schema is not None and schema["type"] == "object"
    data = schema["properties"]["data"]
    if op.paginated:
        assert set(schema["required"]) == {"data", "next_cursor", "request_id"}
        assert schema["properties"]["next_cursor"] == {"type": ["string", "null"]}
        assert data["type"] == "array"
        data = data["items"]
    else:
        assert set(schema["required"]) == {"data", "request_id"}
    assert data["type"] == "object"
    assert data.get("properties"), f"{op.name}: data has no typed fields"
    reference = data.get("description", "")
    if reference.startswith("Fields as "):
        reader = platform().registry.get(reference.split()[2])
        assert reader is not None and reader.read_only and reader.name != op.name
        assert issubclass(op.output_model, reader.output_model)
    else:
        missing = set(op.output_model.model_fields) - set(data["properties"])
        assert not missing, f"{op.name}: fields {missing} not in the output schema"
    for node in _schema_nodes(schema):
        assert "title" not in node and "format" not in node


def test_every_record_is_typed_in_full_somewhere() -> None:
    """A reference points at a read tool whose own schema lists every field."""
    for op in OPS:
        if op.read_only and not op.paginated:
            data = tool(op).output_schema["properties"]["data"]  # type: ignore[index]
            if not data.get("description", "").startswith("Fields as "):
                assert set(op.output_model.model_fields) <= set(data["properties"]), op.name


def test_registry_invariants() -> None:
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))
    for op in OPS:
        assert tool_json(tool(op))["annotations"]["readOnlyHint"] is op.read_only


DEFAULT_LIST_TOKENS = 8_000
"""Goal: the default ``tools/list`` of an all-scopes token stays under this (bytes / 4)."""
MEAN_TOOL_TOKENS = 250
"""Goal: ≤ 250 tokens per tool on average over the default list."""
MAX_DEFAULT_TOOL_TOKENS = 350
"""Goal: no tool of the default list over 350 tokens."""
MAX_TOOL_TOKENS = 600
"""Guard for every tool, default or not (create_invoice with nested line items ~565)."""


def _tokens(op: Operation) -> float:
    return tool_size_bytes(tool(op)) / 4


def test_default_toolsets_budget() -> None:
    """The default selection: ≤ 8,000 tokens, ≤ 250 tokens a tool on average, none over 350.

    Measured like bench/mcp_vs_rest.py: compact JSON of each tool (output schema
    included) as sent in ``tools/list``, bytes / 4 ≈ tokens. A description or schema that
    grows fails here.
    """
    listed = platform().registry.visible(None, _policy().for_request())
    assert {op.toolset for op in listed} == DEFAULT_TOOLSETS
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
    """Every declared toolset holds tools and is one header / flag away."""
    registry = platform().registry
    declared = {t.name for t in registry.toolsets}
    assert {op.toolset for op in OPS} == declared
    assert "list_runs_of_workflow" not in {op.name for op in OPS}  # REST-only alias
    every = {op.name for op in OPS}
    policy = _policy()
    assert {op.name for op in registry.visible(None, policy.for_request("all"))} == every
    for toolset in declared:
        names = {op.name for op in OPS if op.toolset == toolset}
        listed = {op.name for op in registry.visible(None, policy.for_request(toolset))}
        assert listed == names, toolset
    default_plus = policy.for_request("default,webhooks").toolsets
    assert default_plus == DEFAULT_TOOLSETS | {"webhooks"}
    cli = ToolPolicy.from_settings(_settings(), registry, toolsets="accounting").for_request()
    assert {op.toolset for op in registry.visible(None, cli)} == {"accounting"}


def test_unknown_toolsets_are_refused_with_the_valid_ones() -> None:
    registry = platform().registry
    with pytest.raises(UnknownToolsets) as caught:
        parse_toolsets("crm,bogus", registry)
    assert caught.value.unknown == ["bogus"]
    for name in registry.toolset_names:
        assert name in str(caught.value)
    with pytest.raises(UnknownToolsets):
        ToolPolicy.from_settings(_settings(), registry, toolsets="nope")
    with pytest.raises(UnknownToolsets):
        ToolPolicy.from_settings(_settings(mcp_toolsets="crm,nope"), registry)
    with pytest.raises(UnknownToolsets):
        _policy().for_request("tasks,nope")


def test_instructions_name_every_toolset() -> None:
    """README, server instructions and tools/list agree on the toolsets."""
    registry = platform().registry
    text = instructions(registry)
    for toolset in registry.toolsets:
        assert f"- {toolset.name}{' (default)' if toolset.default else ''}:" in text


def test_every_argument_is_described_briefly() -> None:
    """Tool descriptions ≤ 300 characters; every argument has a short description, except
    the shared ones the server instructions explain once (limit, cursor, idempotency_key)
    and a path id, whose name says what it is (get_contact's contact_id)."""
    for op in OPS:
        assert len(op.description) <= 300, f"{op.name}: {len(op.description)} characters"
        for name, prop in tool(op).input_schema["properties"].items():
            text = prop.get("description", "")
            if name in SHARED_ARGUMENTS or name in op.path_params:
                assert not text, f"{op.name}.{name}: described in the instructions instead"
                continue
            assert text.strip(), f"{op.name}.{name} has no description"
            limit = 240 if name == "recipe" else 80
            assert len(text) <= limit, f"{op.name}.{name}: {len(text)} characters"


def test_compaction_rules() -> None:
    registry = platform().registry
    update_lead = tool(registry.get("update_lead")).input_schema["properties"]  # type: ignore[arg-type]
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
    assert update_lead["lead_id"] == {"type": "string"}
    assert "title" in update_lead and update_lead["title"]["description"] == "Job title."
    get_lead = tool(registry.get("get_lead")).output_schema  # type: ignore[arg-type]
    fields = get_lead["properties"]["data"]["properties"]  # type: ignore[index]
    assert fields["email"] == {"type": "string"}  # omitted when empty: never null
    statuses = ["new", "working", "qualified", "disqualified", "converted"]
    assert fields["status"] == {"enum": statuses}
    assert fields["custom_fields"]["additionalProperties"] == {
        "type": ["string", "number", "boolean"]
    }
    update = tool(registry.get("update_lead")).output_schema["properties"]["data"]  # type: ignore[index]
    assert update == {
        "type": "object",
        "description": "Fields as get_lead returns.",
        "properties": {"id": {"type": "string"}},
    }


def test_policy_defaults_and_headers() -> None:
    policy = _policy()
    assert policy.for_request().toolsets == DEFAULT_TOOLSETS
    assert policy.for_request("admin").toolsets == {"admin"}
    assert policy.for_request("all").toolsets is None
    assert policy.for_request("crm, tasks").toolsets == {"crm", "tasks"}
    assert policy.for_request(None, "true").read_only is True
    assert policy.for_request(None, "0").read_only is False


def test_policy_headers_cannot_widen_the_ceiling() -> None:
    policy = _policy(mcp_toolsets="workspace", mcp_readonly=True)
    assert policy.for_request().toolsets == {"workspace"}
    assert policy.for_request("crm").toolsets == frozenset()
    assert policy.for_request("all").toolsets == {"workspace"}
    assert policy.for_request("workspace,crm").toolsets == {"workspace"}
    assert policy.for_request(None, "false").read_only is True


def test_policy_flags_allow_and_deny() -> None:
    registry = platform().registry
    settings = _settings(mcp_deny_tools="create_token", mcp_allow_tools="get_me,create_token")
    policy = ToolPolicy.from_settings(settings, registry, toolsets="workspace,admin")
    f = policy.for_request()
    assert [op.name for op in registry.visible(None, f)] == ["get_me"]
    ro = ToolPolicy.from_settings(_settings(), registry, toolsets="all", read_only=True)
    assert ro.for_request().toolsets is None and ro.for_request().read_only
    assert all(op.read_only for op in registry.visible(None, ro.for_request()))
    # flags narrow the settings' ceiling
    narrowed = ToolPolicy.from_settings(
        _settings(mcp_toolsets="workspace,crm"), registry, toolsets="crm"
    )
    assert narrowed.for_request().toolsets == {"crm"}
    assert isinstance(f, ToolFilter)


def test_cursor_round_trip_and_rejects_garbage() -> None:
    assert decode_cursor(encode_cursor(50)) == 50
    for bad in ("", "x", "dG9vbHM6LTE", encode_cursor(1)[:-1] + "!"):
        with pytest.raises(MCPError):
            decode_cursor(bad)


def test_readme_lists_every_toolset_and_its_tools() -> None:
    """The README's toolset table names each toolset, its default flag and its tools."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines()
            if line.startswith("| `")}  # fmt: skip
    registry = platform().registry
    for toolset in registry.toolsets:
        key = f"`{toolset.name}`" + (" (default)" if toolset.default else "")
        assert key in rows, f"README: no row for toolset {key}"
        tools = [op.name for op in registry if op.toolset == toolset.name and op.mcp_tool]
        listed = [part.strip(" `") for part in rows[key].split("|")[3].split(",")]
        assert listed == tools, toolset.name
