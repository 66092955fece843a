"""The scope and ability catalogue of SPEC §2."""

from __future__ import annotations

RESOURCE_SCOPES: tuple[str, ...] = tuple(
    f"{group}:{mode}"
    for group in (
        "crm",
        "support",
        "tasks",
        "activity",
        "cms",
        "assets",
        "integrations",
        "analytics",
        "bi",
    )
    for mode in ("read", "write")
)
ALL_SCOPES: tuple[str, ...] = (
    *RESOURCE_SCOPES,
    "workflows:read",
    "workflows:run",
    "workflows:write",
    "workspace:admin",
)
ALL_ABILITIES: tuple[str, ...] = ("api:rest", "api:mcp")
READ_SCOPES: tuple[str, ...] = tuple(s for s in ALL_SCOPES if s.endswith(":read"))


def parse_scopes(value: str | list[str]) -> list[str]:
    """Split and validate a scope list; ``*`` means every scope. Raises ValueError."""
    items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value)]
    items = [s for s in items if s]
    if "*" in items:
        return list(ALL_SCOPES)
    unknown = [s for s in items if s not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    return sorted(set(items), key=ALL_SCOPES.index)


def parse_abilities(value: str | list[str]) -> list[str]:
    """Split and validate an ability list. Raises ValueError."""
    items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value)]
    items = [s for s in items if s]
    unknown = [s for s in items if s not in ALL_ABILITIES]
    if unknown:
        raise ValueError(f"unknown abilities: {', '.join(unknown)}")
    return sorted(set(items), key=ALL_ABILITIES.index)
