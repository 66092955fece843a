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
        "conversations",
        "knowledge",
    )
    for mode in ("read", "write")
)
ALL_SCOPES: tuple[str, ...] = (
    *RESOURCE_SCOPES,
    "workflows:read",
    "workflows:run",
    "workflows:write",
    "workspace:admin",
    "workspace:owner",
)
ALL_ABILITIES: tuple[str, ...] = ("api:rest", "api:mcp")
READ_SCOPES: tuple[str, ...] = tuple(s for s in ALL_SCOPES if s.endswith(":read"))


SCOPE_AREAS: dict[str, tuple[str, ...]] = {
    area: tuple(s for s in ALL_SCOPES if s.split(":", 1)[0] == area)
    for area in dict.fromkeys(s.split(":", 1)[0] for s in ALL_SCOPES)
}
"""Every area (the part before the colon) and its scopes, in catalogue order."""
SCOPE_WILDCARDS: tuple[str, ...] = tuple(f"{area}:*" for area in SCOPE_AREAS)
"""``area:*`` means every scope of the area *today*: it is expanded when a token is minted,
so scopes added later never widen an existing token."""


def expand_scopes(items: list[str]) -> list[str]:
    """Expand ``*``, ``area:*`` and ``area:read|write`` into concrete scopes (catalogue
    order, no duplicates).
    Raises ValueError naming the unknown ones and listing the valid scopes."""
    concrete: set[str] = set()
    unknown: list[str] = []
    for item in items:
        if item == "*":
            concrete.update(ALL_SCOPES)
        elif item.endswith(":*") and item[:-2] in SCOPE_AREAS:
            concrete.update(SCOPE_AREAS[item[:-2]])
        elif item in ALL_SCOPES:
            concrete.add(item)
        elif "|" in item and ":" in item:  # the shorthand area:read|write
            area, modes = item.split(":", 1)
            names = [f"{area}:{mode.strip()}" for mode in modes.split("|")]
            bad = [n for n in names if n not in ALL_SCOPES]
            unknown.extend(bad)
            concrete.update(n for n in names if n not in bad)
        else:
            unknown.append(item)
    if unknown:
        raise ValueError(
            f"unknown scopes: {', '.join(unknown)}. Valid scopes: {', '.join(ALL_SCOPES)}; "
            f"'area:*' for every scope of an area ({', '.join(SCOPE_WILDCARDS)}) or '*' for all."
        )
    return sorted(concrete, key=ALL_SCOPES.index)


def parse_scopes(value: str | list[str]) -> list[str]:
    """Split, expand (``*``, ``area:*``) and validate a scope list. Raises ValueError."""
    items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value)]
    return expand_scopes([s for s in items if s])


def parse_abilities(value: str | list[str]) -> list[str]:
    """Split and validate an ability list. Raises ValueError."""
    items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value)]
    items = [s for s in items if s]
    unknown = [s for s in items if s not in ALL_ABILITIES]
    if unknown:
        raise ValueError(f"unknown abilities: {', '.join(unknown)}")
    return sorted(set(items), key=ALL_ABILITIES.index)
