"""Idempotency-Key handling (SPEC §3).

``begin`` claims the key in its own short transaction (so a concurrent duplicate sees
it at once and gets 409), the handler's transaction marks it completed together with
the write, and a failed handler releases it so the client may retry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from core.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, ValidationFailed
from core.idempotency_models import IdempotencyRecord
from core.tokens.service import Principal

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


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
) -> Replay | None:
    """Claim ``key`` for this request; return a ``Replay`` if it already completed."""
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
) -> Replay | None:
    now = utcnow()
    existing = await session.get(IdempotencyRecord, (principal.token_id, key))
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
                locked_until=now + timedelta(seconds=lock_seconds),
                expires_at=now + timedelta(seconds=ttl_seconds),
                created_at=now,
            )
        )
        await session.flush()
        return None
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
        .values(locked_until=now + timedelta(seconds=lock_seconds))
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise IdempotencyKeyInFlight()
    return None


async def complete(
    session: AsyncSession, principal: Principal, key: str, status: int, body: dict[str, Any]
) -> None:
    """Store the response in the handler's transaction, so it commits with the write."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.token_id == principal.token_id, IdempotencyRecord.key == key)
        .values(state="completed", response_status=status, response_body=body)
    )


async def release(db: Database, principal: Principal, key: str) -> None:
    """Drop an in-flight claim after a failed request, so the key can be retried."""
    async with db.session(principal.workspace_id) as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.token_id == principal.token_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == "in_flight",
            )
        )


async def purge_expired(db: Database) -> int:
    """Delete records past their 24 h window; returns how many."""
    async with db.session() as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
