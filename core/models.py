"""Imports every table model so that ``SQLModel.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

from sqlmodel import SQLModel

TABLE_MODULES: tuple[str, ...] = (
    "core.workspaces.models",
    "core.tokens.models",
    "core.audit.models",
    "core.events.models",
    "core.idempotency_models",
    "core.workflows.models",
    "core.crm.models",
    "core.tasks.models",
    "core.activities.models",
    "core.webhooks.models",
)
"""Modules defining tables; a new domain adds its ``models`` module here."""


def load_all() -> type[SQLModel]:
    """Import every table module and return ``SQLModel`` (whose metadata is then complete)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return SQLModel
