"""The tokens domain: API tokens, their scopes and abilities."""

from core.domain import Domain, Sample
from core.tokens.models import ApiToken
from core.tokens.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="tokens",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(ApiToken,),
    samples={"create_token": Sample(lambda: {"name": "Sample token", "scopes": ["crm:read"]})},
    records={"token": "create_token"},
)
