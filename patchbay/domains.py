"""The domains Patchbay serves: a new domain is one line here (and its own folder)."""

from __future__ import annotations

from functools import cache

from core.activities.manifest import DOMAIN as ACTIVITIES
from core.audit.manifest import DOMAIN as AUDIT
from core.conversations.manifest import DOMAIN as CONVERSATIONS
from core.crm.manifest import DOMAIN as CRM
from core.domain import Domain
from core.knowledge.manifest import DOMAIN as KNOWLEDGE
from core.members.manifest import DOMAIN as MEMBERS
from core.platform import Platform
from core.support.manifest import DOMAIN as SUPPORT
from core.tasks.manifest import DOMAIN as TASKS
from core.tokens.manifest import DOMAIN as TOKENS
from core.webhooks.manifest import DOMAIN as WEBHOOKS
from core.workflows.manifest import DOMAIN as WORKFLOWS
from core.workspaces.manifest import DOMAIN as WORKSPACES

DOMAINS: tuple[Domain, ...] = (
    WORKSPACES,
    TOKENS,
    AUDIT,
    WORKFLOWS,
    CRM,
    TASKS,
    ACTIVITIES,
    WEBHOOKS,
    MEMBERS,
    SUPPORT,
    KNOWLEDGE,
    CONVERSATIONS,
)


@cache
def platform() -> Platform:
    """The platform of every domain (built once per process)."""
    return Platform.assemble(DOMAINS)
