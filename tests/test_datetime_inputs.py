"""Every date-time argument of every operation × a naive and an out-of-range value → 400
``validation_error`` naming the field, over REST and MCP, and nothing written.

Generated over the registry: the arguments are found in each input model's JSON schema
(``format: date-time``), so a date-time field added later is covered automatically.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.operations import Operation
from core.registry import default_registry
from core.runtime import Runtime
from tests.factories import Tenant
from tests.mcp_server.helpers import error_code, error_of, memory_client
from tests.op_samples import PATH_PARAM_TYPES, call, create_record, sample_args
from tests.rest.test_bad_input import snapshot

BAD_VALUES = {
    "naive": "2026-01-01T00:00:00",
    "past_year_9999": "9999-12-31T23:59:59-14:00",
    "before_year_1": "0001-01-01T00:00:00+14:00",
}


def _datetime_fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the ``format: date-time`` properties of ``schema`` (nested objects too)."""
    found: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        for option in options:
            if "$ref" in option:
                option = defs[option["$ref"].rsplit("/", 1)[-1]]
            if option.get("format") == "date-time":
                found.append(prefix + name)
            elif option.get("type") == "object":
                found += _datetime_fields(option, defs, f"{prefix}{name}.")
    return found


def datetime_arguments() -> list[tuple[str, str]]:
    """(operation, dotted field) for every date-time input of the registry."""
    pairs = []
    for op in default_registry():
        schema = op.input_model.model_json_schema()
        pairs += [(op.name, f) for f in _datetime_fields(schema, schema.get("$defs", {}))]
    return pairs


CASES = datetime_arguments()


def test_the_registry_has_the_known_datetime_arguments() -> None:
    """The discovery is not vacuous: the date-times of the issue are found."""
    assert {("create_task", "due_at"), ("log_activity", "occurred_at")} <= set(CASES)
    assert ("record_payment", "paid_at") in CASES


def _with(args: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """``args`` with the dotted ``field`` set to ``value``."""
    args = dict(args)
    head, _, rest = field.partition(".")
    args[head] = _with(args.get(head) or {}, rest, value) if rest else value
    return args


async def _path_ids(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, op: Operation
) -> dict[str, str]:
    return {
        name: await create_record(client, runtime.registry, tenant.headers, PATH_PARAM_TYPES[name])
        for name in op.path_params
    }


def _assert_names_field(error: dict[str, Any], field: str) -> None:
    assert error["code"] == "validation_error", error
    assert field in error["message"], error
    assert any(field in e["field"] for e in error["details"]["errors"]), error


@pytest.mark.parametrize("bad", list(BAD_VALUES))
@pytest.mark.parametrize(("op_name", "field"), CASES)
async def test_rest_refuses_naive_and_out_of_range_datetimes(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    op_name: str,
    field: str,
    bad: str,
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    path_ids = await _path_ids(client, runtime, tenant, op)
    before = await snapshot(runtime)
    r = await call(
        client, op, tenant.headers, path_ids, _with(sample_args(op), field, BAD_VALUES[bad])
    )
    assert r.status_code == 400, r.text
    _assert_names_field(r.json()["error"], field)
    assert await snapshot(runtime) == before


@pytest.mark.parametrize("bad", list(BAD_VALUES))
@pytest.mark.parametrize(("op_name", "field"), CASES)
async def test_mcp_refuses_naive_and_out_of_range_datetimes(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    op_name: str,
    field: str,
    bad: str,
) -> None:
    op = runtime.registry.get(op_name)
    assert op is not None
    arguments = {**sample_args(op), **await _path_ids(client, runtime, tenant, op)}
    before = await snapshot(runtime)
    async with memory_client(runtime, tenant.token) as mcp:
        result = await mcp.call_tool(op.name, _with(arguments, field, BAD_VALUES[bad]))
    assert error_code(result) == "validation_error"
    _assert_names_field(error_of(result), field)
    assert await snapshot(runtime) == before


async def test_an_offset_is_normalised_to_utc(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/api/v1/tasks",
        json={"title": "Call back", "due_at": "2026-01-01T09:30:00+02:00"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["due_at"] == "2026-01-01T07:30:00Z"
