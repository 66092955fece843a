"""Idempotency-Key handling (SPEC §3).

``begin`` claims the key in its own short transaction (so a concurrent duplicate sees
it at once and gets 409), the handler's transaction marks it completed together with
the write, and a failed handler releases it so the client may retry.

A claim is locked for ``lock_seconds``; a retry may take over a claim whose lock lapsed
(its process died). Completing and releasing check that the claim is still this
request's (its lock stamp), so a request that outlived its lock cannot also write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, UTCDateTime, utcnow
from core.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, ValidationFailed
from core.idempotency_models import IdempotencyRecord
from core.principal import Principal

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    """The key completed before: answer with the stored response."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """This request holds the key; ``stamp`` (its lock expiry) identifies the claim."""

    key: str
    stamp: datetime


def request_hash(operation: str, arguments: dict[str, Any]) -> str:
    """A stable fingerprint of the operation and its validated arguments."""
    canonical = json.dumps({"op": operation, "args": arguments}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    """Reject keys that are empty, too long or not printable ASCII."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
        )
    return key


async def begin(
    db: Database,
    principal: Principal,
    *,
    key: str,
    operation: str,
    fingerprint: str,
    ttl_seconds: int,
    lock_seconds: int,
) -> Replay | Claim:
    """Claim ``key`` for this request, or return a ``Replay`` if it already completed."""
    for _attempt in range(3):
        try:
            async with db.session(principal.workspace_id) as session:
                return await _claim(
                    session, principal, key, operation, fingerprint, ttl_seconds, lock_seconds
                )
        except IntegrityError:
            continue  # a concurrent request inserted the same key first: look again
    raise IdempotencyKeyInFlight()


async def _claim(
    session: AsyncSession,
    principal: Principal,
    key: str,
    operation: str,
    fingerprint: str,
    ttl_seconds: int,
    lock_seconds: int,
) -> Replay | Claim:
    now = utcnow()
    stamp = now + timedelta(seconds=lock_seconds)
    existing = await session.get(
        IdempotencyRecord, (principal.workspace_id, principal.token_id, key)
    )
    if existing is not None and existing.expires_at <= now:
        await session.delete(existing)
        await session.flush()
        existing = None
    if existing is None:
        session.add(
            IdempotencyRecord(
                token_id=principal.token_id,
                key=key,
                workspace_id=principal.workspace_id,
                operation=operation,
                request_hash=fingerprint,
                state="in_flight",
                locked_until=stamp,
                expires_at=now + timedelta(seconds=ttl_seconds),
                created_at=now,
            )
        )
        await session.flush()
        return Claim(key, stamp)
    if existing.request_hash != fingerprint or existing.operation != operation:
        raise IdempotencyKeyReused()
    if existing.state == "completed":
        assert existing.response_status is not None and existing.response_body is not None
        return Replay(existing.response_status, existing.response_body)
    # In flight: a live request owns it, unless its lock lapsed (the process died).
    taken = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.token_id == principal.token_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.state == "in_flight",
            IdempotencyRecord.locked_until <= now,
        )
        .values(locked_until=stamp)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise IdempotencyKeyInFlight()
    return Claim(key, stamp)


def _held(principal: Principal, claim: Claim) -> Any:
    return (
        (IdempotencyRecord.workspace_id == principal.workspace_id)
        & (IdempotencyRecord.token_id == principal.token_id)
        & (IdempotencyRecord.key == claim.key)
        & (IdempotencyRecord.state == "in_flight")
        & (IdempotencyRecord.locked_until == claim.stamp)
    )


async def complete(
    session: AsyncSession, principal: Principal, claim: Claim, status: int, body: dict[str, Any]
) -> None:
    """Store the response in the handler's transaction, so it commits with the write.

    Raises ``IdempotencyKeyInFlight`` (rolling the write back) if a retry took the key
    over after this request's lock lapsed: only one of them may write.
    """
    done = await session.execute(
        update(IdempotencyRecord)
        .where(_held(principal, claim))
        .values(state="completed", response_status=status, response_body=body)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise IdempotencyKeyInFlight(
            "This request ran past its idempotency lock and a retry took the key over; "
            "its changes were not saved."
        )


async def release(db: Database, principal: Principal, claim: Claim) -> None:
    """Drop this request's claim after it failed, so the key can be retried (a claim a
    retry has taken over is left alone)."""
    async with db.session(principal.workspace_id) as session:
        await session.execute(delete(IdempotencyRecord).where(_held(principal, claim)))


async def purge_expired(db: Database) -> int:
    """Delete records past their 24 h window; returns how many."""
    async with db.session() as session:
        if not db.is_sqlite:  # every workspace's records: the narrow function (0008)
            purged = await session.execute(
                text("SELECT patchbay_purge_idempotency(:now)").bindparams(
                    bindparam("now", type_=UTCDateTime())
                ),
                {"now": utcnow()},
            )
            return int(purged.scalar_one())
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
