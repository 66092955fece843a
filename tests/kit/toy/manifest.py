"""The toy domain's manifest: everything it contributes."""

from core.domain import Domain, Sample
from tests.kit.toy.models import Widget
from tests.kit.toy.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="toy",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Widget,),
    related_types={"widget": Widget},
    event_types={"widget.created": "A widget was made."},
    samples={"create_widget": Sample(lambda: {"name": "Sprocket"})},
    records={"widget": "create_widget"},
)
