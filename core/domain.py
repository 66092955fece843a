"""The domain kit: everything a domain contributes, declared in one manifest.

A domain is a package under ``core/`` whose ``__init__`` exports ``DOMAIN = Domain(…)``;
the composition root lists the domains (``patchbay/domains.py``) and
``core.platform.Platform.assemble`` builds the registry, the worker queues, the event
catalogue, the related-record links, the subscribers, the erasure hooks and the MCP
toolsets from that list. Nothing in the kernel, ``rest/`` or ``mcp_server/`` names a
domain. ``docs/adding-a-domain.md`` walks through one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.operations import Operation, Toolset

if TYPE_CHECKING:
    from core.events.models import DomainEvent
    from core.jobs.queue import Queue
    from core.runtime import Runtime

EventSubscriber = Callable[[AsyncSession, "DomainEvent"], Awaitable[int | None]]
"""Called inside the emitting transaction for every domain event; may answer how many
recipients it queued the event for (the webhook fan-out does)."""

Eraser = Callable[[AsyncSession, WorkspaceId, Mapping[str, Collection[str]]], Awaitable[int]]
"""``(session, workspace, {related_type: erased record ids}) -> records blanked``: when a
person is erased, each domain blanks the personal text of its records linked to them
(and scrubs those records' copies with ``core.erasure.scrub_copies``), in the erasing
transaction."""

CopyScrubber = Callable[[AsyncSession, WorkspaceId, Mapping[str, dict[str, Any]]], Awaitable[None]]
"""``(session, workspace, {event id: stub})``: replaces this domain's copies of the given
events' payloads (the webhook domain's delivery payloads) with the stubs."""

WorkspaceSeeder = Callable[[AsyncSession, WorkspaceId], Awaitable[None]]
"""``(session, new workspace)``: records a new workspace starts with."""

Chore = Callable[["Runtime"], Awaitable[int]]
"""Periodic worker housekeeping (purging expired rows …); answers how many rows it touched."""


@dataclass(frozen=True)
class Sample:
    """Minimal valid arguments of one operation, for the generated test matrices and the
    API reference's examples.

    ``needs`` names the records to create first: argument or path parameter → record type
    (a ``record_payment`` needs ``{"invoice_id": "invoice"}``). Path parameters named
    ``<type>_id`` need no entry: the record type is read off the name.
    """

    args: Callable[[], dict[str, Any]] = dict
    needs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Domain:
    """One domain's manifest."""

    name: str
    operations: Sequence[Operation] = ()
    toolsets: Sequence[Toolset] = ()
    tables: Sequence[type] = ()
    """Its table models (importing them registers them in the metadata)."""
    queues: Sequence[Queue] = ()
    related_types: Mapping[str, type] = field(default_factory=dict)
    """Record types other records may link to (``related_type``) → their table model."""
    event_types: Mapping[str, str] = field(default_factory=dict)
    """Built-in event types it emits → description (the webhook catalogue)."""
    event_category: str = ""
    """The category its event types are listed under (default: the domain's name)."""
    subscribers: Sequence[EventSubscriber] = ()
    erasers: Sequence[Eraser] = ()
    copy_scrubbers: Sequence[CopyScrubber] = ()
    chores: Sequence[Chore] = ()
    workspace_seeders: Sequence[WorkspaceSeeder] = ()
    """Run in the transaction that creates a workspace: what a new workspace starts with
    (the CRM's default deal pipeline)."""
    provides: Mapping[str, Any] = field(default_factory=dict)
    """Named capabilities other domains may use through the platform (e.g. the webhook
    domain's ``event_publisher``), so no domain imports another."""
    samples: Mapping[str, Sample] = field(default_factory=dict)
    """Operation name → a sample call (see ``Sample``)."""
    records: Mapping[str, str] = field(default_factory=dict)
    """Record type → the operation that creates one (its sample supplies the arguments)."""
