"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document of exactly the registry."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from core.operations import ANY_SCOPE, Kind
from rest.adapter import API_PREFIX
from tests.domains import suite_platform as platform


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(f"{API_PREFIX}/openapi.json")  # public: no token needed
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): entry
        for path, item in document["paths"].items()
        for method, entry in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


async def test_is_a_valid_openapi_31_document(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any schema violation


async def test_lists_exactly_the_registry(document: dict[str, Any]) -> None:
    registry = platform().registry
    expected = {(op.method, API_PREFIX + op.path) for op in registry}
    assert set(operations(document)) == expected
    assert len(operations(document)) == len(registry)
    ids = [entry["operationId"] for entry in operations(document).values()]
    assert sorted(ids) == sorted(op.operation_id for op in registry)


async def test_every_operation_declares_scope_and_errors(document: dict[str, Any]) -> None:
    ops = operations(document)
    for op in platform().registry:
        entry = ops[(op.method, API_PREFIX + op.path)]
        assert entry["operationId"] == op.operation_id
        assert entry["x-required-scope"] == (None if op.scope == ANY_SCOPE else op.scope)
        assert entry["security"] == [{"bearerAuth": []}]
        responses = entry["responses"]
        assert str(op.success_status) in responses
        success = responses[str(op.success_status)]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            success["headers"]
        )
        envelope = success["content"]["application/json"]["schema"]
        assert {"data", "request_id"} <= set(envelope["required"])
        if op.paginated:
            assert "next_cursor" in envelope["required"]
        for status in ("400", "401", "403", "429", "500"):
            assert status in responses, (op.name, status)
            error = resolve(document, responses[status])
            schema = error["content"]["application/json"]["schema"]
            assert resolve(document, schema)["required"] == ["error"]
        assert "Retry-After" in resolve(document, responses["429"])["headers"]
        if op.path_params:
            assert "404" in responses
        for err in op.errors:
            assert str(err.status) in responses
        params = {(p["in"], p["name"]) for p in entry.get("parameters", [])}
        for name in op.path_params:
            assert ("path", name) in params
        if op.kind is not Kind.read:
            assert ("header", "Idempotency-Key") in params
        if op.method in {"POST", "PATCH", "PUT"}:
            body = entry["requestBody"]["content"]["application/json"]["schema"]
            assert body["additionalProperties"] is False
            assert not set(op.path_params) & set(body["properties"])


async def test_get_me_and_token_routes(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert ops[("GET", f"{API_PREFIX}/me")]["x-required-scope"] is None
    assert ops[("GET", f"{API_PREFIX}/tokens")]["x-required-scope"] == "workspace:admin"
    create = ops[("POST", f"{API_PREFIX}/tokens")]
    assert "201" in create["responses"]
    assert {"409", "413", "422"} <= set(create["responses"])
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"name", "scopes"}
    list_params = {p["name"] for p in ops[("GET", f"{API_PREFIX}/tokens")]["parameters"]}
    assert {"limit", "cursor"} <= list_params


async def test_every_schema_reference_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        resolve(document, {"$ref": ref})  # KeyError if dangling


async def test_every_create_links_to_the_operations_taking_its_id(
    document: dict[str, Any],
) -> None:
    """OpenAPI links from each create to every operation whose path (or list filter) takes
    the id it returns, so clients and stateful testers can chain them (issue 14)."""
    names = {op.operation_id: op.name for op in platform().registry}
    ops = {
        names[op["operationId"]]: (path, op)
        for path, methods in document["paths"].items()
        for op in methods.values()
    }
    links = ops["create_contact"][1]["responses"]["201"]["links"]
    assert {"get_contact", "update_contact", "erase_contact"} <= set(links)
    assert links["get_contact"]["parameters"] == {"path.contact_id": "$response.body#/data/id"}
    run_links = ops["trigger_workflow"][1]["responses"]["202"]["links"]
    assert run_links["get_workflow_run"]["parameters"] == {"path.run_id": "$response.body#/data/id"}
    invoice_links = ops["create_invoice"][1]["responses"]["201"]["links"]
    assert invoice_links["list_payments"]["parameters"] == {
        "query.invoice_id": "$response.body#/data/id"
    }
    targets = {
        target
        for _path, op in ops.values()
        for response in op["responses"].values()
        for target in response.get("links", {})
    }
    taking_ids = {name for name, (path, _op) in ops.items() if "{" in path}
    assert taking_ids <= targets, taking_ids - targets  # every one is reachable by a link


async def test_enforced_constraints_are_declared(document: dict[str, Any]) -> None:
    """What the gate refuses is in the document: the Idempotency-Key format, line breaks
    in name-like fields, NUL anywhere, custom field keys, and the 415 and 503 answers."""
    create_task = document["paths"]["/api/v1/tasks"]["post"]
    key = next(p for p in create_task["parameters"] if p["name"] == "Idempotency-Key")
    assert re.fullmatch(key["schema"]["pattern"], "retry-1 ok")
    assert not re.fullmatch(key["schema"]["pattern"], "tab\there")
    body = create_task["requestBody"]["content"]["application/json"]["schema"]
    title = body["properties"]["title"]["pattern"]
    assert re.fullmatch(title, "Call Jane") and not re.fullmatch(title, "two\nlines")
    notes = body["properties"]["description"]["anyOf"][0]["pattern"]
    assert re.fullmatch(notes, "two\nlines") and not re.fullmatch(notes, "nul\x00")
    assert body["allOf"]  # related_type and related_id come together
    lead = document["paths"]["/api/v1/leads"]["post"]["requestBody"]["content"]
    fields = lead["application/json"]["schema"]["properties"]["custom_fields"]
    assert fields["propertyNames"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert {"415", "503"} <= set(create_task["responses"])
    assert "503" in document["paths"]["/api/v1/me"]["get"]["responses"]
