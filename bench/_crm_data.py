"""Shared by the CRM benchmarks: a throwaway database, a workspace, bulk contact rows."""

from __future__ import annotations

import random
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from core.db import Database, WorkspaceId, utcnow
from core.ids import new_id
from core.migrate import upgrade_async
from core.search import build_search_text
from core.workspaces import service as workspaces

FIRST = [
    "maya",
    "luis",
    "priya",
    "tom",
    "sara",
    "jonas",
    "ava",
    "kenji",
    "elena",
    "marcus",
    "olivia",
    "noah",
    "emma",
    "liam",
    "sofia",
    "lucas",
    "mia",
    "ethan",
    "chloe",
    "mateo",
    "zoe",
    "leo",
    "nina",
    "omar",
    "ines",
    "hugo",
    "lena",
    "ravi",
    "yuki",
    "amir",
    "clara",
    "felix",
    "iris",
    "diego",
    "hana",
    "ivan",
    "julia",
    "karl",
    "laura",
]
LAST = [
    "chen",
    "ortega",
    "raman",
    "becker",
    "malik",
    "weber",
    "thompson",
    "sato",
    "petrova",
    "lee",
    "garcia",
    "smith",
    "novak",
    "kowalski",
    "rossi",
    "muller",
    "dubois",
    "silva",
    "tanaka",
    "kim",
    "nguyen",
    "haddad",
    "jensen",
    "larsen",
    "costa",
    "moreau",
    "fischer",
    "schmidt",
    "ivanova",
    "popescu",
    "horvat",
]
COMPANY = [
    "northwind",
    "bluebird",
    "harbor",
    "pine",
    "lumen",
    "greenleaf",
    "atlas",
    "summit",
    "vertex",
    "cobalt",
    "meridian",
    "orchid",
    "quantum",
    "river",
    "stone",
    "willow",
    "falcon",
    "aurora",
    "beacon",
    "cedar",
]
SUFFIX = ("Labs", "Traders", "Analytics", "Dental", "Studio", "Logistics", "Health", "Partners")
NOTE_WORDS = [
    "renewal",
    "pricing",
    "onboarding",
    "invoice",
    "demo",
    "pilot",
    "churn",
    "upsell",
    "support",
    "contract",
    "budget",
    "security",
    "integration",
    "webinar",
    "referral",
    "quarterly",
    "annual",
    "discount",
    "migration",
    "training",
]


def fake_contact(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = f"{rng.choice(COMPANY).capitalize()} {rng.choice(SUFFIX)}"
    domain = company.split()[0].lower() + ".example"
    name = f"{first.capitalize()} {last.capitalize()}"
    email = f"{first}.{last}{n}@{domain}"
    notes = " ".join(rng.choice(NOTE_WORDS) for _ in range(rng.randint(3, 8)))
    return {
        "name": name,
        "email": email,
        "company_name": company,
        "notes": notes,
        "search_text": build_search_text(name, email, company, notes),
    }


def contact_rows(ws: str, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` contact rows with strictly increasing, time-ordered ids."""
    rng = random.Random(seed)
    now = utcnow()
    ids = sorted(new_id("con") for _ in range(count))
    return [
        {
            "id": ids[i],
            "workspace_id": ws,
            **fake_contact(rng, i),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]


@asynccontextmanager
async def scratch_database(url: str, label: str) -> AsyncIterator[str]:
    """A fresh, migrated database next to ``url`` (a new PostgreSQL database on the same
    server, or the SQLite file itself, recreated); dropped/removed afterwards."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        try:
            await upgrade_async(url)
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return
    admin = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"bench_{label}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    scratch = admin.rsplit("/", 1)[0] + "/" + name
    try:
        await upgrade_async(scratch)
        yield scratch
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def make_workspace(db: Database, name: str) -> WorkspaceId:
    async with db.session() as session:
        return WorkspaceId((await workspaces.create_workspace(session, name, "pro")).id)


async def copy_contacts(url: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL bulk load with COPY."""
    columns = list(rows[0])
    conn = await asyncpg.connect(url)
    try:
        records = [
            tuple(r[c].replace(tzinfo=None) if c.endswith("_at") else r[c] for c in columns)
            for r in rows
        ]
        await conn.copy_records_to_table("contacts", records=records, columns=columns)
    finally:
        await conn.close()


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    """Latencies in milliseconds of ``repeat`` sequential calls (after 3 warm-ups)."""
    for _ in range(3):
        await fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3),
    }


def run(main: Callable[[], Awaitable[None]]) -> None:
    anyio.run(main)


async def analyze(url: str) -> None:
    """Refresh the planner's statistics of the contacts table (as its owner)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE contacts")
    finally:
        await conn.close()
