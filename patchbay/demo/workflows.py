"""Demo data: an active workflow for the demo workspace."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.errors import DomainError
from core.webhooks import service as webhooks
from core.workflows import service

KICKOFF_EVENT = "campaign.kickoff"
DEMO_WORKFLOW_NAME = "Spring Promo kickoff"

DEMO_RECIPE = {
    "continue_on_error": False,
    "steps": [
        {"type": "log", "message": "Kicking off {{input.campaign}}"},
        {"type": "delay", "seconds": 2},
        {
            "type": "fire_webhook_event",
            "event": KICKOFF_EVENT,
            "payload": {"campaign": "{{input.campaign}}"},
        },
    ],
}


async def seed_workflows(session: AsyncSession, workspace_id: WorkspaceId) -> None:
    """An active "Spring Promo kickoff" workflow: log, wait 2 s, fire campaign.kickoff."""
    await _register_event_type(session, workspace_id)
    await service.create_workflow(
        session,
        workspace_id,
        name=DEMO_WORKFLOW_NAME,
        description="Logs the kickoff, waits 2 seconds, then fires campaign.kickoff to webhooks.",
        recipe=DEMO_RECIPE,
    )


async def _register_event_type(session: AsyncSession, workspace_id: WorkspaceId) -> None:
    """Custom events must be registered before a workflow can fire them."""
    try:
        async with session.begin_nested():
            await webhooks.register_event_type(
                session,
                workspace_id,
                key=KICKOFF_EVENT,
                category="campaign",
                description="A marketing campaign started (fired by the demo workflow).",
            )
    except DomainError:  # already registered (e.g. by another seeder)
        pass
