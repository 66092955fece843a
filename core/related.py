"""Links from one record to "any record" (tasks, activities): validation in the workspace.

A record type maps to the table model that holds it; the domains declare theirs
(``Domain.related_types``) and the platform collects them. A related id must exist in
the caller's workspace (a foreign id answers 404 ``<type>_not_found`` exactly like an
unknown one); a type no domain declares is refused with the list of those that exist,
never accepted unverified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import StringConstraints, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.errors import NotFound, ValidationFailed
from core.platform import platform_of

MARKER = "x-patchbay-related-type"

RelatedType = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z_]{0,29}$"),
    WithJsonSchema({"type": "string", MARKER: True}),
]
"""A record type name (``contact``, ``deal`` …). Which exist is the platform's business:
the schema builders replace the marker with the enum of the types the domains declare
(``fill_related_types``), and ``check_related`` refuses any other."""


def fill_related_types(schema: Any, types: Sequence[str]) -> Any:
    """Replace every ``RelatedType`` marker in a JSON schema (in place) by the enum of
    ``types``; returns the schema."""
    if isinstance(schema, dict):
        if schema.pop(MARKER, False):
            schema["enum"] = list(types)
        for value in schema.values():
            fill_related_types(value, types)
    elif isinstance(schema, list):
        for item in schema:
            fill_related_types(item, types)
    return schema


def related_model(session: AsyncSession, type_: str) -> Any:
    """The table model of record type ``type_``; 400 naming the valid types otherwise."""
    types = platform_of(session).related_types
    model = types.get(type_)
    if model is None:
        raise ValidationFailed(
            f"Records of type '{type_}' cannot be linked; linkable types: "
            f"{', '.join(sorted(types))}.",
            details={
                "errors": [{"field": "related_resource_type", "problem": "unknown record type"}]
            },
        )
    return model


async def check_related(
    session: AsyncSession, ws: WorkspaceId, type_: str | None, id_: str | None
) -> None:
    """Raise unless both or neither are given and the record exists in the workspace."""
    if (type_ is None) != (id_ is None):
        raise ValidationFailed(
            "related_resource_type and related_resource_id must be given together."
        )
    if type_ is None or id_ is None:
        return
    model = related_model(session, type_)
    stmt = select(model.id).where(model.id == id_, model.workspace_id == ws)
    if (await session.execute(stmt)).first() is None:
        raise NotFound(type_, id_)
