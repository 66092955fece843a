"""Sending one delivery: sign, POST through the SSRF-safe client, record the outcome.

Outcomes of an attempt:

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import update

from core.db import Database, WorkspaceId, utcnow
from core.events.service import emit
from core.jobs.queue import ClaimedJob, finish
from core.net import URLNotAllowed, build_safe_client
from core.runtime import Runtime
from core.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.webhooks.service import fail_queued
from core.webhooks.signing import render_body, signed_headers

log = logging.getLogger("patchbay.webhooks")

TIMEOUT_SECONDS = 10.0
DISABLE_AFTER = timedelta(days=5)
PAUSED_RECHECK = timedelta(minutes=5)
MAX_RETRY_AFTER = timedelta(days=1)
JITTER = 0.10

# ------------------------------------------------------------------ the shared client

_clients: weakref.WeakKeyDictionary[Any, dict[bool, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(allow_private_network: bool) -> httpx.AsyncClient:
    """One keep-alive client per event loop (i.e. per worker process) and policy."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(allow_private_network)
    if client is None or client.is_closed:
        client = per_loop[allow_private_network] = build_safe_client(
            allow_private_network=allow_private_network, timeout=TIMEOUT_SECONDS
        )
    return client


async def close_clients() -> None:
    """Close this event loop's clients (tests, shutdown)."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()


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

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def _load(db: Database, job: ClaimedJob) -> _Work | None:
    stmt = (
        sa.select(
            WebhookDelivery.endpoint_id,
            WebhookDelivery.event_type,
            WebhookDelivery.payload,
            WebhookDelivery.event_created_at,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.status,
            WebhookEndpoint.first_failure_at,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == job.id, WebhookDelivery.workspace_id == job.workspace_id)
    )
    async with db.session(job.workspace_id, read_only=True) as session:
        row = (await session.execute(stmt)).first()
    return _Work(*row) if row is not None else None


async def send(client: httpx.AsyncClient, job_id: str, work: _Work) -> _Result:
    """One signed POST; never raises for network or policy failures."""
    body = render_body(work.event_type, work.event_created_at, work.payload)
    headers = signed_headers(work.secret, job_id, int(time.time()), body)
    started = time.perf_counter()
    try:
        response = await client.post(work.url, content=body, headers=headers)
    except URLNotAllowed as exc:
        return _Result(error=f"url_not_allowed: {exc.reason}", refused=True)
    except httpx.TimeoutException as exc:
        return _Result(error=f"timeout: {type(exc).__name__}", elapsed_ms=_ms(started))
    except httpx.HTTPError as exc:
        return _Result(error=f"{type(exc).__name__}: {exc}"[:500], elapsed_ms=_ms(started))
    result = _Result(status_code=response.status_code, elapsed_ms=_ms(started))
    if not result.succeeded:
        result.retry_after = response.headers.get("retry-after")
        result.error = f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            result.error += " (redirects are not followed)"
    return result


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def deliver(runtime: Runtime, job: ClaimedJob) -> None:
    """Queue handler: attempt the delivery ``job`` and record the outcome."""
    work = await _load(runtime.db, job)
    if work is None:
        return  # deleted together with its endpoint
    now = utcnow()
    if work.endpoint_status == EndpointStatus.paused:
        # Held, not attempted: give the attempt back and look again later.
        await _finish(runtime, job, work, attempts=job.attempts - 1, run_after=now + PAUSED_RECHECK)
        return
    if work.endpoint_status == EndpointStatus.disabled:
        await _finish(
            runtime,
            job,
            work,
            status=DeliveryStatus.failed.value,
            last_error="endpoint_disabled",
            next_attempt_at=None,
        )
        return

    result = await send(shared_client(runtime.settings.allow_private_network), job.id, work)
    now = utcnow()
    values: dict[str, Any] = {
        "last_status_code": result.status_code,
        "last_error": result.error,
        "last_response_ms": result.elapsed_ms,
    }
    if result.succeeded:
        await _finish(
            runtime,
            job,
            work,
            status=DeliveryStatus.succeeded.value,
            delivered_at=now,
            next_attempt_at=None,
            reset_failures=work.first_failure_at is not None,
            **values,
        )
        return
    if result.refused:
        await _finish(
            runtime, job, work, status=DeliveryStatus.failed.value, next_attempt_at=None, **values
        )
        return
    failing_since = work.first_failure_at or now
    if result.gone or now - failing_since >= DISABLE_AFTER:
        reason = "gone (HTTP 410)" if result.gone else "failing for 5 days"
        await _finish(
            runtime,
            job,
            work,
            status=DeliveryStatus.failed.value,
            next_attempt_at=None,
            disable_reason=reason,
            **values,
        )
        return
    schedule = parse_schedule(runtime.settings.webhook_retry_schedule)
    if job.attempts > len(schedule):
        await _finish(
            runtime,
            job,
            work,
            status=DeliveryStatus.failed.value,
            next_attempt_at=None,
            mark_failure=True,
            **values,
        )
        return
    retry_after = parse_retry_after(result.retry_after, now)
    run_after = now + next_delay(schedule, job.attempts, retry_after)
    await _finish(
        runtime,
        job,
        work,
        status=DeliveryStatus.retrying.value,
        run_after=run_after,
        next_attempt_at=run_after,
        mark_failure=True,
        **values,
    )


async def _finish(
    runtime: Runtime,
    job: ClaimedJob,
    work: _Work,
    *,
    reset_failures: bool = False,
    mark_failure: bool = False,
    disable_reason: str | None = None,
    **values: Any,
) -> None:
    """Record the attempt and drop the lease; endpoint bookkeeping in the same transaction."""
    now = utcnow()
    workspace_id = job.workspace_id
    async with runtime.db.session(workspace_id) as session:
        if not await finish(session, job, updated_at=now, **values):
            log.warning("lease on webhook delivery %s was lost; outcome not recorded", job.id)
            return
        endpoint_id = work.endpoint_id
        if reset_failures:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.first_failure_at.is_not(None),
                )
                .values(first_failure_at=None)
                .execution_options(synchronize_session=False)
            )
        if mark_failure and work.first_failure_at is None:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == endpoint_id, WebhookEndpoint.first_failure_at.is_(None)
                )
                .values(first_failure_at=now)
                .execution_options(synchronize_session=False)
            )
        if disable_reason is not None:
            await disable_endpoint(session, workspace_id, endpoint_id, disable_reason, now)


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
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    await emit(
        session,
        workspace_id,
        "webhook_endpoint.disabled",
        {"webhook_id": endpoint_id, "reason": reason},
    )
