"""CRM inputs carry their rules in their types (core/crm/schemas.py, core/fields.py).

A name, title, key or other label refuses line breaks and control characters because it
is a ``OneLine``, not because its name is on a list somewhere else: the input models
refuse it themselves, before the gate. Only free text and record ids take a line break.
"""

from __future__ import annotations

import typing
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from core.operations import Operation
from core.runtime import Runtime
from patchbay.domains import platform
from tests.crm.helpers import count, created, patch, post
from tests.factories import Tenant

FREE_TEXT = {"notes", "description", "memo", "query", "custom_field_value", "cursor", "after"}
"""Arguments that may hold several lines (ids, ``*_id``, may too: they are looked up)."""
LINE_BREAK = "a\nb"

CRM_OPERATIONS = [op for op in platform().registry if op.module == "crm"]


def _nested(annotation: Any) -> tuple[bool, type[BaseModel]] | None:
    """(is a list, model) when ``annotation`` is an input model or a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, annotation
    (item, *_) = typing.get_args(annotation) or (None,)
    if typing.get_origin(annotation) is list and isinstance(item, type):
        return (True, item) if issubclass(item, BaseModel) else None
    return None


def _probes(model: type[BaseModel]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(location, body) pairs putting a line break in each argument, nested ones too."""
    probes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for name, info in model.model_fields.items():
        inner = _nested(info.annotation)
        if inner is None:
            probes.append(((name,), {name: LINE_BREAK}))
            continue
        is_list, sub = inner
        for field in sub.model_fields:
            value = {field: LINE_BREAK}
            if is_list:
                probes.append(((name, 0, field), {name: [value]}))
            else:
                probes.append(((name, field), {name: value}))
    return probes


def takes_a_line_break(model: type[BaseModel]) -> set[tuple[Any, ...]]:
    """The arguments of ``model`` a line break passes (other arguments may still fail)."""
    passed = set()
    for location, body in _probes(model):
        try:
            model.model_validate(body)
        except ValidationError as exc:
            if any(tuple(error["loc"]) == location for error in exc.errors()):
                continue
        passed.add(location)
    return passed


@pytest.mark.parametrize("op", CRM_OPERATIONS, ids=lambda op: op.name)
def test_only_free_text_and_ids_take_a_line_break(op: Operation) -> None:
    for location in takes_a_line_break(op.input_model):
        name = location[-1]
        assert name in FREE_TEXT or name.endswith("_id"), (
            f"{op.name}: argument {'.'.join(map(str, location))} takes a line break; a "
            "name-like argument is a core.fields.OneLine"
        )


def test_the_probe_sees_free_text_and_nested_names() -> None:
    invoice = platform().registry.get("create_invoice")
    assert invoice is not None
    passed = takes_a_line_break(invoice.input_model)
    assert ("notes",) in passed and ("line_items", 0, "description") in passed
    assert ("line_items", 0, "name") not in passed and ("invoice_number",) not in passed


async def test_names_are_single_lines_free_text_is_not(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    item = {"name": "Setup\r\nX-Evil: 1", "unit_amount_cents": 100}
    r = await post(client, tenant, "/invoices", {"invoice_number": "INV-1", "line_items": [item]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    assert "line_items.0.name" in r.json()["error"]["message"]
    assert await count(runtime, "invoices", tenant.workspace_id) == 0

    contact = await created(client, tenant, "/contacts", {"name": "Jane", "notes": "a\nb"})
    assert contact["notes"] == "a\nb"
    for field, value in (("name", "Jane\u2028Doe"), ("title", "CTO\x07"), ("phone", "1\n2")):
        r = await patch(client, tenant, f"/contacts/{contact['id']}", {field: value})
        assert r.status_code == 400, r.text
        assert f"'{field}'" in r.json()["error"]["message"]
    stage = await post(client, tenant, "/deal-stages", {"key": "won", "name": "Won\nBig"})
    assert stage.status_code == 400 and "'name'" in stage.json()["error"]["message"]
