"""The SLA-check queue for ``core.jobs`` workers."""

from __future__ import annotations

from core.jobs import Queue
from core.support.models import SLA_READY_STATUSES, SupportSlaCheck
from core.support.sla import check_breach

SLA_QUEUE = Queue(
    name="support_sla_checks",
    model=SupportSlaCheck,
    ready_statuses=SLA_READY_STATUSES,
    handler=check_breach,
)
