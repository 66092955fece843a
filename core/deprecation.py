"""Deprecated argument names and values, declared on the field that replaced them.

The reference documents' names are canonical; where Patchbay used another name before,
the old one keeps working as a deprecated alias. The alias is declared where the field
is, as ``Annotated`` metadata::

    related_resource_type: Annotated[RelatedType | None, Renamed("related_type")] = ...
    status: Annotated[TaskStatus | None, OldValues(done="completed")] = ...

The gate rewrites the raw arguments to the canonical form before validation
(``rewrite``) and the REST adapter answers an ``X-API-Deprecation`` header naming what
to use instead. Schemas (OpenAPI, MCP) show only the canonical names and values.
Sending an old name together with its new one is a 400.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from core.errors import ValidationFailed

HEADER = "X-API-Deprecation"


@dataclass(frozen=True)
class Renamed:
    """The field was called ``old`` before: ``old`` is accepted as a deprecated alias."""

    old: str


@dataclass(frozen=True)
class OldValues:
    """Deprecated enum values of the field → the canonical value each stands for."""

    values: dict[str, str] = field(default_factory=dict)

    def __init__(self, **values: str) -> None:
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Aliases:
    """A model's deprecated names (old → new) and values (field → {old → new})."""

    names: dict[str, str]
    values: dict[str, dict[str, str]]

    def __bool__(self) -> bool:
        return bool(self.names or self.values)


@functools.cache
def aliases_of(model: type[BaseModel]) -> Aliases:
    """The deprecated aliases the fields of ``model`` declare."""
    names: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, Renamed):
                names[meta.old] = name
            elif isinstance(meta, OldValues):
                values[name] = dict(meta.values)
    return Aliases(names, values)


def rewrite(model: type[BaseModel], raw: dict[str, Any]) -> list[str]:
    """Rewrite deprecated names and values in ``raw`` (in place) to the canonical ones;
    answers one note per rewrite (for the deprecation header). 400 when an old name and
    its new one are both given."""
    found = aliases_of(model)
    if not found:
        return []
    notes: list[str] = []
    for old, new in found.names.items():
        if old not in raw:
            continue
        if new in raw:
            raise ValidationFailed(
                f"Send '{new}' only: '{old}' is its deprecated name.",
                details={"errors": [{"field": old, "problem": f"deprecated name of '{new}'"}]},
            )
        raw[new] = raw.pop(old)
        notes.append(f"argument '{old}' is deprecated, use '{new}'")
    for name, old_values in found.values.items():
        value = raw.get(name)
        if isinstance(value, str) and value in old_values:
            raw[name] = old_values[value]
            notes.append(f"{name} '{value}' is deprecated, use '{old_values[value]}'")
    return notes


def header_value(notes: list[str]) -> str:
    """The ``X-API-Deprecation`` header for ``notes``."""
    return "; ".join(dict.fromkeys(notes))
