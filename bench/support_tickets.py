"""Support ticket lists at 200,000 tickets on PostgreSQL: filtered by status + queue, and
free-text search (pg_trgm over search_text, through the ``support_tickets_search`` view).

Loads 200,000 tickets over 8 queues into one workspace with COPY (the trigram index is
built after the load, as a bulk import would), then times lists through the real path —
``core.support.service.list_tickets`` (the ``search_support_tickets`` operation's handler,
keyset page of 25) in a transaction bound to the workspace (row-level security on) —
with a mix of status + queue filters, single filters, free text (common words, rare
order numbers, two words, misses), free text combined with status + queue, and the
``breached`` filter. Goal: p95 ≤ 50 ms.

    python -m bench.support_tickets --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa

from bench._crm_data import make_workspace, run, scratch_database, summary
from core.db import Database, WorkspaceId, utcnow
from core.ids import new_id
from core.search import build_search_text
from core.support import service
from core.support.schemas import CreateQueueIn, ListTicketsIn
from patchbay.domains import platform

ROWS = 200_000
QUEUES = ("billing", "technical", "onboarding", "priority", "returns", "shipping", "api", "vip")
STATUSES = (  # (status, weight): most tickets of a mature desk are closed
    ("new", 3), ("open", 8), ("pending", 4), ("waiting_on_customer", 5),
    ("resolved", 20), ("closed", 60),
)  # fmt: skip
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
SOURCES = ("email", "chat", "phone", "web", "api", "mcp", "slack", "other", "manual")
PRODUCTS = [
    "invoice", "dashboard", "export", "login", "password", "printer", "webhook", "report",
    "subscription", "refund", "shipment", "label", "integration", "calendar", "mobile app",
    "api key", "csv import", "payment", "card", "coupon", "account", "team invite",
]  # fmt: skip
PROBLEMS = [
    "cannot download", "does not load", "is missing", "fails with an error", "is slow",
    "shows the wrong amount", "was charged twice", "keeps timing out", "is blank",
    "cannot be deleted", "needs a change", "stopped syncing",
]  # fmt: skip
WORDS = [
    "customer", "urgent", "since yesterday", "after the update", "on safari", "on android",
    "in the eu region", "for the whole team", "again", "screenshot attached", "asap",
]  # fmt: skip


def ticket_rows(ws: str, queue_ids: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = utcnow()
    statuses = [s for s, w in STATUSES for _ in range(w)]
    rows = []
    for _ in range(count):
        created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
        subject = f"{rng.choice(PRODUCTS)} {rng.choice(PROBLEMS)}".capitalize()
        description = (
            f"Order {rng.randint(100_000, 999_999)}: {rng.choice(WORDS)}, {rng.choice(WORDS)}."
        )
        category = rng.choice(("billing", "technical", "account", "shipping", None))
        status = rng.choice(statuses)
        due = created + timedelta(minutes=120)
        responded = created + timedelta(minutes=rng.randint(5, 240)) if status != "new" else None
        rows.append({
            "workspace_id": ws,
            "id": new_id("ticket"),
            "subject": subject,
            "description": description,
            "status": status,
            "priority": rng.choice(PRIORITIES),
            "source": rng.choice(SOURCES),
            "category": category,
            "queue_id": rng.choice(queue_ids),
            "assignee_id": f"agent-{rng.randint(1, 40)}",
            "custom_fields": "{}",
            "first_response_due_at": due,
            "first_responded_at": responded,
            "sla_breached_at": due if responded is not None and responded > due else None,
            "search_text": build_search_text(subject, category, description),
            "created_at": created,
            "updated_at": created,
        })  # fmt: skip
    return rows


async def copy_tickets(url: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    conn = await asyncpg.connect(url)
    try:
        records = [
            tuple(
                r[c].replace(tzinfo=None) if c.endswith("_at") and r[c] is not None else r[c]
                for c in columns
            )
            for r in rows
        ]
        await conn.copy_records_to_table("support_tickets", records=records, columns=columns)
    finally:
        await conn.close()


def lists(rng: random.Random, queues: list[str], n: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, filters) pairs: what a support dashboard and an agent ask for."""
    status = [s for s, _ in STATUSES]
    kinds = {
        "status+queue": lambda: {"status": rng.choice(status), "queue_id": rng.choice(queues)},
        "status": lambda: {"status": rng.choice(status)},
        "queue": lambda: {"queue_id": rng.choice(queues)},
        "text_common": lambda: {"query": rng.choice(PRODUCTS)},
        "text_two_words": lambda: {"query": f"{rng.choice(PRODUCTS)} {rng.choice(PROBLEMS)}"},
        "text_order_number": lambda: {"query": str(rng.randint(100_000, 999_999))},
        "text_miss": lambda: {"query": rng.choice(["zqxv", "nothing like it", "qqq"])},
        "text+status+queue": lambda: {
            "query": rng.choice(PRODUCTS),
            "status": rng.choice(("open", "pending", "waiting_on_customer")),
            "queue_id": rng.choice(queues),
        },
        "breached+queue": lambda: {"breached": True, "queue_id": rng.choice(queues)},
    }
    names = list(kinds)
    return [(kind, kinds[kind]()) for kind in (names[i % len(names)] for i in range(n))]


async def bench(url: str, rows: int, count: int) -> dict[str, Any]:
    if url.startswith("sqlite"):
        raise SystemExit("bench/support_tickets.py targets PostgreSQL (pass a postgresql:// URL)")
    async with scratch_database(url, "support") as db_url:
        db = Database(db_url)
        db.platform = platform()
        try:
            ws = await make_workspace(db, "bench")
            queue_ids: list[str] = []
            async with db.session(ws) as session:
                for key in QUEUES:
                    queue = await service.create_queue(
                        session, WorkspaceId(ws),
                        CreateQueueIn(key=key, name=key.title(), first_response_target_minutes=120),
                    )  # fmt: skip
                    queue_ids.append(queue.id)
            started = time.perf_counter()
            owner = Database(db_url, role=None)  # the tables' owner: schema changes
            async with owner.session() as session:
                await session.execute(sa.text("DROP INDEX ix_support_tickets_search_trgm"))
            for start in range(0, rows, 50_000):
                chunk = ticket_rows(ws, queue_ids, min(50_000, rows - start), seed=start)
                await copy_tickets(db_url, chunk)
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            async with owner.session() as session:
                await session.execute(sa.text("SET maintenance_work_mem = '512MB'"))
                await session.execute(
                    sa.text(
                        "CREATE INDEX ix_support_tickets_search_trgm ON support_tickets "
                        "USING gin (search_text gin_trgm_ops)"
                    )
                )
            async with owner.engine.connect() as conn:
                await conn.execute(sa.text("COMMIT"))
                await conn.execute(sa.text("VACUUM ANALYZE support_tickets"))
            await owner.dispose()
            index_s = time.perf_counter() - started

            async def list_once(filters: dict[str, Any]) -> int:
                async with db.session(ws, read_only=True) as session:
                    page = await service.list_tickets(
                        session, WorkspaceId(ws), ListTicketsIn(limit=25, **filters)
                    )
                return len(page.items)

            rng = random.Random(42)
            for _, filters in lists(rng, queue_ids, 40):  # warm-up
                await list_once(filters)
            by_kind: dict[str, list[float]] = {}
            hits: dict[str, int] = {}
            all_ms: list[float] = []
            for kind, filters in lists(rng, queue_ids, count):
                t0 = time.perf_counter()
                found = await list_once(filters)
                ms = (time.perf_counter() - t0) * 1000
                all_ms.append(ms)
                by_kind.setdefault(kind, []).append(ms)
                hits[kind] = hits.get(kind, 0) + (found > 0)
        finally:
            await db.dispose()
    return {
        "engine": "postgresql",
        "tickets_in_workspace": rows,
        "queues": len(QUEUES),
        "load_seconds": round(load_s, 1),
        "index_build_seconds": round(index_s, 1),
        "lists": count,
        "overall": summary(all_ms),
        "by_kind": {
            k: {**summary(v), "with_results": f"{hits[k]}/{len(v)}"} for k, v in by_kind.items()
        },
        "goal": "p95 <= 50 ms",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--lists", type=int, default=450)
    args = parser.parse_args()

    async def go() -> None:
        print(json.dumps(await bench(args.database_url, args.rows, args.lists), indent=2))

    run(go)


if __name__ == "__main__":
    main()
