"""The database is the queue: claim, lease, release and the worker loop (DESIGN.md rule 5)."""

from core.jobs.fields import JobFields
from core.jobs.queue import (
    ClaimedJob,
    Queue,
    claim,
    extend_lease,
    extend_leases,
    finish,
    release,
    release_many,
)
from core.jobs.worker import Worker

__all__ = [
    "ClaimedJob",
    "JobFields",
    "Queue",
    "Worker",
    "claim",
    "extend_lease",
    "extend_leases",
    "finish",
    "release",
    "release_many",
]
