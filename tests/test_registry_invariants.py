"""Invariants over every operation of the default registry."""

from __future__ import annotations

import re

import pytest

from core.operations import Kind, Operation
from patchbay.domains import platform

OPS = list(platform().registry)
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_names_are_unique_snake_case() -> None:
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))
    assert all(SNAKE.match(n) for n in names), [n for n in names if not SNAKE.match(n)]


def test_method_and_path_pairs_are_unique() -> None:
    pairs = [(op.method, op.path) for op in OPS]
    duplicates = {p for p in pairs if pairs.count(p) > 1}
    assert not duplicates


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_declaration_is_complete(op: Operation) -> None:
    assert op.scope and ":" in op.scope
    assert op.summary.strip() and len(op.description.strip()) >= 20
    assert isinstance(op.kind, Kind)
    assert op.toolset
    assert op.method in {"GET", "POST", "PATCH", "PUT", "DELETE"}
    assert op.path.startswith("/")
    for param in op.path_params:
        assert param in op.input_model.model_fields, f"{param} missing from input model"
    if op.kind is Kind.read:
        assert op.method == "GET"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_input_field_is_described(op: Operation) -> None:
    undocumented = [
        name for name, field in op.input_model.model_fields.items() if not field.description
    ]
    assert not undocumented, f"{op.name}: fields without description: {undocumented}"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_inputs_forbid_unknown_fields(op: Operation) -> None:
    assert op.input_model.model_config.get("extra") == "forbid"


SHOWN_ONCE = frozenset({"secret", "token"})
"""Output fields that carry a credential: shown once, never stored for idempotent replays."""


@pytest.mark.parametrize("op", [o for o in OPS if o.kind is not Kind.read], ids=lambda o: o.name)
def test_credentials_in_outputs_are_declared_secret(op: Operation) -> None:
    shown = SHOWN_ONCE & set(op.output_model.model_fields)
    assert shown <= set(op.extra.get("secret_fields", ())), (
        f"{op.name} returns {sorted(shown)}: declare extra={{'secret_fields': ...}}"
    )
