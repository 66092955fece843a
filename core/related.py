"""Links from tasks and activities to "any record": validation inside the workspace.

A record type maps to the table model that holds it; a related id must exist in the
caller's workspace (a foreign id answers 404 ``<type>_not_found`` exactly like an unknown
one). Only types whose domain exists can be linked (tickets and conversations join
``RelatedType`` when their tables do); a type without a model is refused, never accepted
unverified. Domains register more types with ``register_related``.
"""

from __future__ import annotations

import importlib
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.errors import NotFound, ValidationFailed

RelatedType = Literal["contact", "company", "lead", "deal", "invoice", "payment", "task"]

_MODELS: dict[str, str] = {
    "contact": "core.crm.models:Contact",
    "company": "core.crm.models:Company",
    "lead": "core.crm.models:Lead",
    "deal": "core.crm.models:Deal",
    "invoice": "core.crm.models:Invoice",
    "payment": "core.crm.models:Payment",
    "task": "core.tasks.models:Task",
}


def register_related(type_: str, model_path: str) -> None:
    """Validate links of ``type_`` against ``"module:Class"`` (a workspace-owned table)."""
    _MODELS[type_] = model_path


def _model(type_: str) -> type | None:
    path = _MODELS.get(type_)
    if path is None:
        return None
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


async def check_related(
    session: AsyncSession, ws: WorkspaceId, type_: str | None, id_: str | None
) -> None:
    """Raise unless both or neither are given and the record exists in the workspace."""
    if (type_ is None) != (id_ is None):
        raise ValidationFailed("related_type and related_id must be given together.")
    if type_ is None or id_ is None:
        return
    model = _model(type_)
    if model is None:
        raise ValidationFailed(f"Records of type '{type_}' cannot be linked.")
    stmt = select(model.id).where(model.id == id_, model.workspace_id == ws)  # type: ignore[attr-defined]
    if (await session.execute(stmt)).first() is None:
        raise NotFound(type_, id_)
