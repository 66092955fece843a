"""The conversations domain: agents, conversations, messages and internal notes."""

from core.conversations.models import Agent, Conversation, Message, Note
from core.conversations.operations import OPERATIONS, TOOLSETS
from core.conversations.service import CHECK_AGENT, check_agent, erase_linked
from core.domain import Domain, Sample

DOMAIN = Domain(
    name="conversations",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Agent, Conversation, Message, Note),
    provides={CHECK_AGENT: check_agent},
    event_types={
        "conversation.created": "A conversation was started.",
        "conversation.status_changed": (
            "A conversation became active, escalated or closed (previous_status says from what)."
        ),
        "message.created": "A message was appended to a conversation's transcript.",
    },
    erasers=(erase_linked,),
    samples={
        "create_agent": Sample(lambda: {"name": "Support bot", "site_url": "https://acme.test"}),
        "update_agent": Sample(lambda: {"status": "inactive"}),
        "create_conversation": Sample(lambda: {"channel": "chat", "subject": "Pricing"}),
        "update_conversation": Sample(lambda: {"status": "escalated"}),
        "create_message": Sample(lambda: {"author_type": "system", "body": "Hello"}),
        "create_note": Sample(lambda: {"body": "VIP, be nice"}),
    },
    records={"agent": "create_agent", "conversation": "create_conversation"},
)
