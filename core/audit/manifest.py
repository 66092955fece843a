"""The audit domain: the read-only log of every call."""

from core.audit.models import AuditEntry
from core.audit.operations import OPERATIONS
from core.domain import Domain

DOMAIN = Domain(name="audit", operations=OPERATIONS, tables=(AuditEntry,))
