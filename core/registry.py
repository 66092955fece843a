"""The default registry: every domain's ``OPERATIONS`` list, in a stable order."""

from __future__ import annotations

import importlib
from functools import cache

from core.operations import Registry

DOMAIN_OPERATION_MODULES: tuple[str, ...] = (
    "core.workspaces.operations",
    "core.tokens.operations",
    "core.audit.operations",
    "core.workflows.operations",
    "core.crm.operations",
    "core.tasks.operations",
    "core.activities.operations",
    "core.webhooks.operations",
)
"""Modules exporting ``OPERATIONS``; a new domain adds its module here."""


@cache
def default_registry() -> Registry:
    """Every operation of every domain."""
    registry = Registry()
    for module_name in DOMAIN_OPERATION_MODULES:
        for op in importlib.import_module(module_name).OPERATIONS:
            registry.add(op)
    return registry
