"""Free-text contact search at 1,000,000 rows on PostgreSQL (pg_trgm GIN over search_text).

Loads 1,000,000 contacts into one workspace with COPY (the trigram index is built after the
load, as a bulk import would), then times searches through the real search path — the
contacts repository behind ``search_contacts`` (``core.search.text_filter`` + keyset
page) — with a mix of common and rare names, emails, companies, note words, two-word
queries and misses. Goal: p95 ≤ 50 ms.

    python -m bench.search --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import random
import time

import sqlalchemy as sa

from bench._crm_data import (
    COMPANY,
    FIRST,
    LAST,
    NOTE_WORDS,
    contact_rows,
    copy_contacts,
    make_workspace,
    run,
    scratch_database,
    summary,
)
from core.crm import repository
from core.db import Database
from patchbay.domains import platform

ROWS = 1_000_000


def queries(rng: random.Random, rows: int, n: int, emails: list[str]) -> list[tuple[str, str]]:
    """(kind, query) pairs: a realistic mix of what people type into a CRM search box."""
    kinds = {
        "first_name": lambda: rng.choice(FIRST).capitalize(),
        "last_name": lambda: rng.choice(LAST),
        "full_name": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "email": lambda: rng.choice(emails),
        "email_part": lambda: rng.choice(emails).split("@")[0],
        "company": lambda: rng.choice(COMPANY),
        "note_word": lambda: rng.choice(NOTE_WORDS),
        "prefix": lambda: rng.choice(LAST)[:4],
        "miss": lambda: rng.choice(["zqxv", "nobody here", "xylophone", "qqq"]),
    }
    names = list(kinds)
    return [(kind, kinds[kind]()) for kind in (names[i % len(names)] for i in range(n))]


async def bench(url: str, rows: int, count: int) -> dict:
    if url.startswith("sqlite"):
        raise SystemExit("bench/search.py targets PostgreSQL (pass a postgresql:// URL)")
    async with scratch_database(url, "search") as db_url:
        db = Database(db_url)
        db.platform = platform()  # new workspaces get their seeded records
        try:
            ws = await make_workspace(db, "bench")
            started = time.perf_counter()
            owner = Database(db_url, role=None)  # the tables' owner: schema changes
            async with owner.session() as session:
                await session.execute(sa.text("DROP INDEX ix_contacts_search_trgm"))
            emails: list[str] = []
            sampler = random.Random(1)
            for start in range(0, rows, 250_000):
                chunk = contact_rows(ws, min(250_000, rows - start), seed=start)
                emails += [sampler.choice(chunk)["email"] for _ in range(50)]
                await copy_contacts(db_url, chunk)
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            async with owner.session() as session:
                await session.execute(sa.text("SET maintenance_work_mem = '1GB'"))
                await session.execute(
                    sa.text(
                        "CREATE INDEX ix_contacts_search_trgm ON contacts "
                        "USING gin (search_text gin_trgm_ops)"
                    )
                )
            async with owner.engine.connect() as conn:
                await conn.execute(sa.text("COMMIT"))
                await conn.execute(sa.text("VACUUM ANALYZE contacts"))
            await owner.dispose()
            index_s = time.perf_counter() - started

            async def search(q: str) -> int:
                async with db.session(ws, read_only=True) as session:
                    page = await repository.list_contacts(
                        session, ws, query=q, company_id=None, limit=25, cursor=None
                    )
                return len(page.items)

            rng = random.Random(42)
            for _, q in queries(rng, rows, 40, emails):  # warm-up
                await search(q)
            by_kind: dict[str, list[float]] = {}
            hits: dict[str, int] = {}
            all_ms: list[float] = []
            for kind, q in queries(rng, rows, count, emails):
                t0 = time.perf_counter()
                found = await search(q)
                ms = (time.perf_counter() - t0) * 1000
                all_ms.append(ms)
                by_kind.setdefault(kind, []).append(ms)
                hits[kind] = hits.get(kind, 0) + (found > 0)
        finally:
            await db.dispose()
    return {
        "engine": "postgresql",
        "rows_in_workspace": rows,
        "load_seconds": round(load_s, 1),
        "index_build_seconds": round(index_s, 1),
        "searches": count,
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
    parser.add_argument("--searches", type=int, default=400)
    args = parser.parse_args()

    async def go() -> None:
        print(json.dumps(await bench(args.database_url, args.rows, args.searches), indent=2))

    run(go)


if __name__ == "__main__":
    main()
