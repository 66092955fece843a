"""Usage metering (kernel): one service every domain reports into.

``await usage.add(session, workspace_id, meter, amount)`` adds ``amount`` to the meter's
row of the current UTC day, in the caller's transaction (so a run exists exactly when it
was counted). One ``INSERT … ON CONFLICT DO UPDATE SET amount = amount + excluded.amount``
statement: concurrent adders never lose an increment (the row lock serialises them).
A day row is the finest grain; a billing cycle's figure is the sum of its days (at most
31 rows per meter), today's is one row.

Meters (``METERS``): ``workflow_runs``, ``deliveries``, ``crawl_pages``, ``ai_tokens``
are counted per cycle; ``stored_bytes`` is a level (bytes added minus bytes removed,
summed over all time); ``active_tokens`` is not stored at all (the tokens table is the
truth: a token expires without anyone reporting it), the billing view counts it.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from core.db import WorkspaceId, WorkspaceOwned, tenant_pk, utcnow, workspace_fk

Meter = Literal["workflow_runs", "deliveries", "crawl_pages", "ai_tokens", "stored_bytes"]
CYCLE_METERS: tuple[str, ...] = ("workflow_runs", "deliveries", "crawl_pages", "ai_tokens")
"""Counted per billing cycle."""
LEVEL_METERS: tuple[str, ...] = ("stored_bytes",)
"""A running level: what was added minus what was removed, since the workspace began."""
METERS: tuple[str, ...] = (*CYCLE_METERS, *LEVEL_METERS)


class UsageDaily(SQLModel, WorkspaceOwned, table=True):
    """One meter's amount on one UTC day."""

    __tablename__ = "usage_daily"
    __table_args__ = (tenant_pk("usage_daily", "meter", "day"),)

    workspace_id: str = workspace_fk()
    meter: str = Field(primary_key=True, max_length=40)
    day: date = Field(primary_key=True)
    amount: int = Field(default=0, sa_type=sa.BigInteger)


async def add(
    session: AsyncSession,
    workspace_id: str,
    meter: str,
    amount: int = 1,
    *,
    now: datetime | None = None,
) -> None:
    """Add ``amount`` (may be negative for a level meter) to ``meter`` for today (UTC),
    in the caller's transaction. Raises ``ValueError`` for an unknown meter."""
    if meter not in METERS:
        raise ValueError(f"unknown meter {meter!r}; meters: {', '.join(METERS)}")
    if not amount:
        return
    day = (now or utcnow()).date()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(UsageDaily).values(workspace_id=workspace_id, meter=meter, day=day, amount=amount)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_id", "meter", "day"],
            set_={"amount": UsageDaily.amount + stmt.excluded.amount},
        )
    )


def cycle_bounds(created_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The billing cycle containing ``now``: monthly from the workspace's creation day
    (created on the 31st: the cycle starts on the last day of shorter months), at
    midnight UTC. Answers ``(start, end)``, ``end`` exclusive."""
    anchor = created_at.day

    def on(year: int, month: int) -> datetime:
        day = min(anchor, calendar.monthrange(year, month)[1])
        return datetime.combine(date(year, month, day), time(), tzinfo=UTC)

    def shift(year: int, month: int, by: int) -> tuple[int, int]:
        index = year * 12 + (month - 1) + by
        return index // 12, index % 12 + 1

    start = on(now.year, now.month)
    if start > now:
        start = on(*shift(now.year, now.month, -1))
    end = on(*shift(start.year, start.month, 1))
    return start, end


async def totals(
    session: AsyncSession, workspace_id: WorkspaceId, start: date, end: date
) -> dict[str, int]:
    """Every cycle meter's sum over ``[start, end)`` (days), every level meter's sum over
    all time; meters never reported are 0."""
    result = dict.fromkeys(METERS, 0)
    rows = await session.execute(
        sa.select(UsageDaily.meter, sa.func.sum(UsageDaily.amount))
        .where(
            UsageDaily.workspace_id == workspace_id,
            UsageDaily.meter.in_(CYCLE_METERS),  # type: ignore[attr-defined]
            UsageDaily.day >= start,
            UsageDaily.day < end,
        )
        .group_by(UsageDaily.meter)
    )
    levels = await session.execute(
        sa.select(UsageDaily.meter, sa.func.sum(UsageDaily.amount))
        .where(
            UsageDaily.workspace_id == workspace_id,
            UsageDaily.meter.in_(LEVEL_METERS),  # type: ignore[attr-defined]
        )
        .group_by(UsageDaily.meter)
    )
    for meter, amount in [*rows.all(), *levels.all()]:
        result[meter] = int(amount or 0)
    return result


async def on_day(session: AsyncSession, workspace_id: WorkspaceId, meter: str, day: date) -> int:
    """One meter's amount on one UTC day (0 if never reported)."""
    amount = await session.scalar(
        sa.select(UsageDaily.amount).where(
            UsageDaily.workspace_id == workspace_id,
            UsageDaily.meter == meter,
            UsageDaily.day == day,
        )
    )
    return int(amount or 0)
