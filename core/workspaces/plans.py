"""The plan table of SPEC §1, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PlanName(StrEnum):
    starter = "starter"
    growth = "growth"
    pro = "pro"
    custom = "custom"


@dataclass(frozen=True)
class Plan:
    """What a plan entitles a workspace to. ``None`` means unlimited."""

    name: PlanName
    rest_api: bool
    mcp: bool
    workflows: bool
    daily_workflow_runs: int | None
    crawl_pages_per_crawl: int
    active_tokens: int
    asset_storage_bytes: int | None = None

    def allows_feature(self, feature: str) -> bool:
        """True if the plan includes ``feature`` (an ``Operation.feature`` value)."""
        return bool(getattr(self, feature))


GIB = 1024**3

PLANS: dict[PlanName, Plan] = {
    PlanName.starter: Plan(PlanName.starter, False, True, False, 0, 25, 5, 1 * GIB),
    PlanName.growth: Plan(PlanName.growth, False, True, True, 100, 100, 5, 10 * GIB),
    PlanName.pro: Plan(PlanName.pro, True, True, True, 1_000, 500, 5, 100 * GIB),
    PlanName.custom: Plan(PlanName.custom, True, True, True, None, 5_000, 25, None),
}


def plan_for(name: str) -> Plan:
    """The ``Plan`` named ``name`` (raises ``KeyError`` for unknown names)."""
    return PLANS[PlanName(name)]


ALL_MODULES: tuple[str, ...] = (
    "crm",
    "support",
    "tasks",
    "activity_log",
    "workflows",
    "integrations",
    "cms",
    "assets",
    "analytics_governance",
    "bi",
)
"""Modules a workspace can have enabled; new workspaces get all of them."""
