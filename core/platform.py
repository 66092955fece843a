"""``Platform``: the domains' manifests assembled into what the runtime serves.

The composition root hands a list of ``Domain`` manifests to ``Platform.assemble``; the
result holds the operation registry and toolsets, the job queues, the event catalogue,
the related-record links, the event subscribers, the erasure hooks, the worker chores,
the capabilities domains provide each other and the test samples. Declarations that
clash (two domains claiming an operation, a record type, an event type or a capability)
fail here, at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import PLATFORM_KEY
from core.domain import (
    Chore,
    CopyScrubber,
    Domain,
    Eraser,
    EventSubscriber,
    Sample,
    WorkspaceSeeder,
)
from core.operations import Registry

if TYPE_CHECKING:
    from core.jobs.queue import Queue


def _merge(target: dict[str, Any], items: Mapping[str, Any], what: str, domain: str) -> None:
    for key, value in items.items():
        if key in target:
            raise ValueError(f"{what} {key!r} of domain {domain!r} is declared twice")
        target[key] = value


@dataclass(frozen=True)
class Platform:
    """Everything the domains declared, merged and checked."""

    domains: tuple[Domain, ...]
    registry: Registry
    queues: tuple[Queue, ...]
    event_types: Mapping[str, str]
    event_categories: Mapping[str, str]
    related_types: Mapping[str, type]
    subscribers: tuple[EventSubscriber, ...]
    erasers: tuple[Eraser, ...]
    copy_scrubbers: tuple[CopyScrubber, ...]
    chores: tuple[Chore, ...]
    workspace_seeders: tuple[WorkspaceSeeder, ...]
    provided: Mapping[str, Any]
    samples: Mapping[str, Sample]
    records: Mapping[str, str]

    @classmethod
    def assemble(cls, domains: Iterable[Domain]) -> Platform:
        """Merge ``domains`` (in order); raise ValueError on a clash."""
        domains = tuple(domains)
        names = [d.name for d in domains]
        if len(names) != len(set(names)):
            raise ValueError(f"a domain is listed twice: {names}")
        registry = Registry()
        for domain in domains:
            for toolset in domain.toolsets:
                registry.add_toolset(toolset)
        event_types: dict[str, str] = {}
        categories: dict[str, str] = {}
        related: dict[str, type] = {}
        provided: dict[str, Any] = {}
        samples: dict[str, Sample] = {}
        records: dict[str, str] = {}
        for domain in domains:
            for op in domain.operations:
                registry.add(op)
            _merge(event_types, domain.event_types, "event type", domain.name)
            category = domain.event_category or domain.name
            categories.update(dict.fromkeys(domain.event_types, category))
            _merge(related, domain.related_types, "related record type", domain.name)
            _merge(provided, domain.provides, "capability", domain.name)
            _merge(samples, domain.samples, "sample of operation", domain.name)
            _merge(records, domain.records, "record type", domain.name)
        for name in samples:
            if registry.get(name) is None:
                raise ValueError(f"a sample names no operation: {name!r}")
        for type_, op_name in records.items():
            if registry.get(op_name) is None:
                raise ValueError(f"record type {type_!r} is created by unknown {op_name!r}")
        registry.related_types = tuple(related)
        queues = tuple(q for d in domains for q in d.queues)
        queue_names = [q.name for q in queues]
        if len(queue_names) != len(set(queue_names)):
            raise ValueError(f"a queue is declared twice: {queue_names}")
        return cls(
            domains=domains,
            registry=registry,
            queues=queues,
            event_types=event_types,
            event_categories=categories,
            related_types=related,
            subscribers=tuple(s for d in domains for s in d.subscribers),
            erasers=tuple(e for d in domains for e in d.erasers),
            copy_scrubbers=tuple(c for d in domains for c in d.copy_scrubbers),
            chores=tuple(c for d in domains for c in d.chores),
            workspace_seeders=tuple(s for d in domains for s in d.workspace_seeders),
            provided=provided,
            samples=samples,
            records=records,
        )

    def capability(self, name: str) -> Any | None:
        """What some domain provides under ``name``, or None."""
        return self.provided.get(name)


def platform_of(session: AsyncSession) -> Platform:
    """The platform a session serves (every session of a runtime's database carries it)."""
    platform = session.info.get(PLATFORM_KEY)
    if platform is None:
        raise RuntimeError("this session was not opened by a runtime's database")
    return platform
