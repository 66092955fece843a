"""Sending deliveries: sign, POST through the SSRF-guarded transport, record the outcomes.

The queue hands ``deliver`` a batch of claimed rows (``jobs.py``); they are sent
concurrently and recorded in one transaction. Outcomes of an attempt:

- 2xx: ``succeeded`` (and the endpoint's failure streak is reset).
- 410 Gone: the endpoint is disabled, the delivery ``failed``, ``webhook_endpoint.disabled``
  is emitted.
- Anything else (3xx — redirects are never followed —, 4xx, 5xx, network errors,
  timeouts): ``retrying`` after the next step of ``settings.webhook_retry_schedule``
  (±10 % jitter; a later ``Retry-After`` wins, capped at one day), ``failed`` once the
  schedule is used up. An endpoint failing without a success for 5 days is disabled.
- The URL is re-checked at send time; a refusal (``URLNotAllowed``) fails at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import sqlalchemy as sa
from sqlalchemy import update

from core.db import Database, WorkspaceId, utcnow
from core.events.service import emit
from core.jobs.queue import ClaimedJob
from core.net import SafeTransport, URLNotAllowed, build_safe_transport, send_through
from core.runtime import Runtime
from core.webhooks.models import WebhookDelivery, WebhookEndpoint
from core.webhooks.schemas import DeliveryStatus, EndpointStatus
from core.webhooks.service import fail_queued
from core.webhooks.signing import render_body, signed_headers

log = logging.getLogger("patchbay.webhooks")

TIMEOUT_SECONDS = 10.0
DISABLE_AFTER = timedelta(days=5)
PAUSED_RECHECK = timedelta(minutes=5)
MAX_RETRY_AFTER = timedelta(days=1)
JITTER = 0.10
BATCH_SIZE = 50
"""Deliveries one worker slot claims at once, sent concurrently and recorded in one
transaction."""
MAX_IN_FLIGHT = 16
"""Sends in flight per process, over all endpoints (each hostname also has at most
``core.net.transport.CONNECTIONS_PER_HOST`` connections)."""

# ------------------------------------------------------------------ the shared transport

_transports: weakref.WeakKeyDictionary[Any, dict[bool, SafeTransport]] = weakref.WeakKeyDictionary()


def shared_transport(allow_private_network: bool) -> SafeTransport:
    """One guarded keep-alive transport per event loop (i.e. per worker process) and policy."""
    loop = asyncio.get_running_loop()
    per_loop = _transports.setdefault(loop, {})
    transport = per_loop.get(allow_private_network)
    if transport is None:
        transport = per_loop[allow_private_network] = build_safe_transport(
            allow_private_network=allow_private_network
        )
    return transport


_in_flight: weakref.WeakKeyDictionary[Any, anyio.Semaphore] = weakref.WeakKeyDictionary()


def send_slots() -> anyio.Semaphore:
    """Bounds concurrent sends per process to ``MAX_IN_FLIGHT`` (a few hostnames' worth of
    keep-alive connections), so connections are reused rather than opened per request."""
    loop = asyncio.get_running_loop()
    semaphore = _in_flight.get(loop)
    if semaphore is None:
        semaphore = _in_flight[loop] = anyio.Semaphore(MAX_IN_FLIGHT)
    return semaphore


# ------------------------------------------------------------------ scheduling


def parse_schedule(text: str) -> list[float]:
    """``"5,300,1800"`` → ``[5.0, 300.0, 1800.0]`` (seconds between attempts)."""
    return [float(part) for part in text.split(",") if part.strip()]


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as delta-seconds or an HTTP date; None if absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)


def next_delay(schedule: list[float], attempts: int, retry_after: timedelta | None) -> timedelta:
    """Delay after failed attempt number ``attempts`` (1-based); jittered, Retry-After wins."""
    base = schedule[min(attempts, len(schedule)) - 1]
    delay = timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER)
    return delay


# ------------------------------------------------------------------ the job handler


@dataclass
class _Work:
    job: ClaimedJob
    endpoint_id: str
    event_type: str
    payload: dict[str, Any]
    event_created_at: datetime
    url: str
    secret: str
    endpoint_status: str
    first_failure_at: datetime | None


@dataclass
class _Result:
    status_code: int | None = None
    error: str | None = None
    elapsed_ms: int | None = None
    retry_after: str | None = None
    refused: bool = False
    excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


@dataclass
class _Effects:
    """Endpoint bookkeeping that follows from a batch of outcomes."""

    reset: set[str] = field(default_factory=set)
    mark_failing: set[str] = field(default_factory=set)
    disable: dict[str, tuple[WorkspaceId, str]] = field(default_factory=dict)


async def _load(db: Database, jobs: list[ClaimedJob]) -> list[_Work]:
    """The deliveries and their endpoints in one query (rows deleted meanwhile are absent);
    a claim is of one workspace."""
    by_id = {job.id: job for job in jobs}
    workspace_id = jobs[0].workspace_id
    stmt = (
        sa.select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.event_type,
            WebhookDelivery.payload,
            WebhookDelivery.event_created_at,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.status,
            WebhookEndpoint.first_failure_at,
        )
        .join(
            WebhookEndpoint,
            (WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            & (WebhookEndpoint.workspace_id == WebhookDelivery.workspace_id),
        )
        .where(WebhookDelivery.workspace_id == workspace_id, WebhookDelivery.id.in_(list(by_id)))
    )
    async with db.session(workspace_id, read_only=True) as session:
        rows = (await session.execute(stmt)).all()
    return [_Work(by_id[row[0]], *row[1:]) for row in rows]


async def send(transport: SafeTransport, msg_id: str, work: _Work) -> _Result:
    """One signed POST; never raises for network or policy failures."""
    body = render_body(work.event_type, work.event_created_at, work.payload)
    headers = signed_headers(work.secret, msg_id, int(time.time()), body)
    started = time.perf_counter()
    try:
        response = await send_through(
            transport, "POST", work.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except URLNotAllowed as exc:
        return _Result(error=f"url_not_allowed: {exc.reason}", refused=True)
    except httpx.TimeoutException as exc:
        return _Result(error=f"timeout: {type(exc).__name__}", elapsed_ms=_ms(started))
    except httpx.HTTPError as exc:
        return _Result(error=f"{type(exc).__name__}: {exc}"[:500], elapsed_ms=_ms(started))
    result = _Result(
        status_code=response.status_code, elapsed_ms=_ms(started), excerpt=excerpt(response)
    )
    if not result.succeeded:
        result.retry_after = response.headers.get("retry-after")
        result.error = f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            result.error += " (redirects are not followed)"
    return result


EXCERPT_CHARS = 500


def excerpt(response: httpx.Response) -> str | None:
    """The start of the receiver's answer as text (for the delivery log), or None."""
    raw = response.content[: EXCERPT_CHARS * 4]
    if not raw:
        return None
    return raw.decode("utf-8", errors="replace").replace("\x00", "")[:EXCERPT_CHARS]


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _outcome(
    work: _Work,
    result: _Result | None,
    now: datetime,
    schedule: list[float],
    effects: _Effects,
) -> dict[str, Any]:
    """Column values recording one attempt (``result`` None: not attempted)."""
    job = work.job
    values: dict[str, Any] = {
        "status": DeliveryStatus.failed.value,
        "attempts": job.attempts,
        "run_after": now,
        "next_attempt_at": None,
        "delivered_at": None,
        "last_status_code": None,
        "last_error": None,
        "last_response_ms": None,
        "last_response_excerpt": None,
    }
    if result is None:
        if work.endpoint_status == EndpointStatus.paused:
            # Held, not attempted: give the attempt back and look again later.
            values.update(
                status=(
                    DeliveryStatus.pending.value
                    if job.attempts <= 1
                    else DeliveryStatus.retrying.value
                ),
                attempts=job.attempts - 1,
                run_after=now + PAUSED_RECHECK,
            )
        else:
            values["last_error"] = "endpoint_disabled"
        return values
    values.update(
        last_status_code=result.status_code,
        last_error=result.error,
        last_response_ms=result.elapsed_ms,
        last_response_excerpt=result.excerpt,
    )
    if result.succeeded:
        values.update(status=DeliveryStatus.succeeded.value, delivered_at=now)
        if work.first_failure_at is not None:
            effects.reset.add(work.endpoint_id)
        return values
    if result.refused:
        return values
    failing_since = work.first_failure_at or now
    if result.gone or now - failing_since >= DISABLE_AFTER:
        reason = "gone (HTTP 410)" if result.gone else "failing for 5 days"
        effects.disable[work.endpoint_id] = (job.workspace_id, reason)
        return values
    if work.first_failure_at is None:
        effects.mark_failing.add(work.endpoint_id)
    if job.attempts > len(schedule):
        return values
    retry_after = parse_retry_after(result.retry_after, now)
    run_after = now + next_delay(schedule, job.attempts, retry_after)
    values.update(
        status=DeliveryStatus.retrying.value, run_after=run_after, next_attempt_at=run_after
    )
    return values


async def deliver(runtime: Runtime, jobs: list[ClaimedJob]) -> None:
    """The queue's batch handler: send the claimed deliveries concurrently, then record
    every attempt (dropping its lease) and the endpoints' bookkeeping in one transaction.

    The worker claims the batch and keeps all its leases alive while it is in flight (a
    slow endpoint can hold a batch for several timeouts). A row whose lease was lost
    meanwhile is not recorded here (the worker that took it over records it); rows left
    unrecorded by an error or a cancellation are released by the worker.
    """
    works = await _load(runtime.db, jobs)
    transport = shared_transport(runtime.settings.allow_private_network)
    results: dict[str, _Result] = {}

    slots = send_slots()

    async def attempt(work: _Work) -> None:
        async with slots:
            results[work.job.id] = await send(transport, work.job.id, work)

    async with anyio.create_task_group() as tg:
        for work in works:
            if work.endpoint_status == EndpointStatus.active:
                tg.start_soon(attempt, work)

    now = utcnow()
    schedule = parse_schedule(runtime.settings.webhook_retry_schedule)
    effects = _Effects()
    rows = []
    for work in works:
        values = _outcome(work, results.get(work.job.id), now, schedule, effects)
        rows.append(
            {
                "b_ws": work.job.workspace_id,
                "b_id": work.job.id,
                "b_worker": work.job.worker_id,
                **values,
            }
        )
    if rows:
        await _record(runtime.db, jobs[0].workspace_id, rows, effects, now)
        _log_failures(works, rows)


def _log_failures(works: list[_Work], rows: list[dict[str, Any]]) -> None:
    """One log line per failed attempt (recorded): final failures as warnings, attempts
    that will be retried as info; ids as structured fields for PATCHBAY_LOG_FORMAT=json."""
    for work, row in zip(works, rows, strict=True):
        status = row["status"]
        if status not in (DeliveryStatus.failed.value, DeliveryStatus.retrying.value):
            continue
        if status == DeliveryStatus.retrying.value and row["attempts"] < work.job.attempts:
            continue  # held by a paused endpoint, not attempted
        why = row["last_error"] or (
            f"HTTP {row['last_status_code']}" if row["last_status_code"] else "no answer"
        )
        fields = {
            "delivery_id": work.job.id,
            "webhook_id": work.endpoint_id,
            "workspace_id": work.job.workspace_id,
            "attempts": row["attempts"],
            "status": status,
            "error": why,
        }
        if status == DeliveryStatus.failed.value:
            log.warning(
                "webhook delivery %s to %s failed for good after %d attempt(s): %s",
                work.job.id,
                work.endpoint_id,
                row["attempts"],
                why,
                extra=fields,
            )
        else:
            log.info(
                "webhook delivery %s to %s failed (attempt %d: %s); retrying at %s",
                work.job.id,
                work.endpoint_id,
                row["attempts"],
                why,
                row["next_attempt_at"].isoformat(),
                extra={**fields, "next_attempt_at": row["next_attempt_at"].isoformat()},
            )


_RECORD = (
    update(WebhookDelivery.__table__)  # type: ignore[attr-defined]
    .where(
        WebhookDelivery.__table__.c.workspace_id == sa.bindparam("b_ws"),  # type: ignore[attr-defined]
        WebhookDelivery.__table__.c.id == sa.bindparam("b_id"),  # type: ignore[attr-defined]
        WebhookDelivery.__table__.c.locked_by == sa.bindparam("b_worker"),  # type: ignore[attr-defined]
    )
    .values(lease_until=None, locked_by=None)
)
"""Executed once per batch with one parameter set per delivery (its columns form SET)."""


async def _record(
    db: Database,
    workspace_id: WorkspaceId,
    rows: list[dict[str, Any]],
    effects: _Effects,
    now: datetime,
) -> None:
    """Record every attempt of the batch (dropping the leases) and the endpoint effects."""
    for row in rows:
        row["updated_at"] = now
    async with db.session(workspace_id) as session:
        # Rows whose lease was lost meanwhile (another worker holds them) are not matched.
        await session.execute(_RECORD, rows)
        if effects.reset:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.workspace_id == workspace_id,
                    WebhookEndpoint.id.in_(effects.reset),
                    WebhookEndpoint.first_failure_at.is_not(None),
                )
                .values(first_failure_at=None)
                .execution_options(synchronize_session=False)
            )
        if effects.mark_failing:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.workspace_id == workspace_id,
                    WebhookEndpoint.id.in_(effects.mark_failing),
                    WebhookEndpoint.first_failure_at.is_(None),
                )
                .values(first_failure_at=now)
                .execution_options(synchronize_session=False)
            )
        for endpoint_id, (workspace_id, reason) in effects.disable.items():
            await disable_endpoint(session, workspace_id, endpoint_id, reason, now)


async def disable_endpoint(
    session: Any, workspace_id: WorkspaceId, endpoint_id: str, reason: str, now: datetime
) -> None:
    """Disable an endpoint, fail its queued deliveries, emit ``webhook_endpoint.disabled``."""
    result = await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.workspace_id == workspace_id,
            WebhookEndpoint.status != EndpointStatus.disabled.value,
        )
        .values(status=EndpointStatus.disabled.value, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return
    await fail_queued(session, workspace_id, endpoint_id, now)
    log.warning(
        "webhook endpoint %s disabled: %s",
        endpoint_id,
        reason,
        extra={"webhook_id": endpoint_id, "workspace_id": workspace_id, "reason": reason},
    )
    await emit(
        session,
        workspace_id,
        "webhook_endpoint.disabled",
        {"webhook_id": endpoint_id, "reason": reason},
    )
