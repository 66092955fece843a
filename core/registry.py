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
"""Modules exporting ``OPERATIONS`` (and, if they declare toolsets, ``TOOLSETS``); a new
domain adds its module here."""


@cache
def default_registry() -> Registry:
    """Every operation and toolset of every domain."""
    modules = [importlib.import_module(name) for name in DOMAIN_OPERATION_MODULES]
    registry = Registry()
    for module in modules:
        for toolset in getattr(module, "TOOLSETS", ()):
            registry.add_toolset(toolset)
    for module in modules:
        for op in module.OPERATIONS:
            registry.add(op)
    return registry
