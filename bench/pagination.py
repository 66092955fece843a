"""Keyset pagination at depth: first page vs. a page 100,000 rows deep.

Loads 200,000 contacts into one workspace (executemany on SQLite, COPY on PostgreSQL),
then times the real list path — the contacts repository used by ``search_contacts``,
and the whole operation through ``core.gateway.dispatch`` — for page 1 and for the page
after row 100,000 (its cursor computed from the ordered ids). Goal: deep/first ≤ 1.3.

    python -m bench.pagination --database-url sqlite:////tmp/bench_pagination.db
    python -m bench.pagination --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import time

import sqlalchemy as sa

from bench._crm_data import (
    analyze,
    contact_rows,
    copy_contacts,
    make_workspace,
    run,
    scratch_database,
    summary,
    timed,
)
from core.config import Settings
from core.crm import repository
from core.crm.models import Contact
from core.db import Database
from core.gateway import call_operation
from core.operations import Channel
from core.pagination import cursor_scope, encode_cursor, list_scope
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from patchbay.domains import platform

ROWS = 200_000
DEPTH = 100_000
REPEAT = 200


async def bench(url: str, rows: int, depth: int, repeat: int) -> dict:
    async with scratch_database(url, "pagination") as db_url:
        db = Database(db_url)
        db.platform = platform()  # new workspaces get their seeded records
        try:
            ws = await make_workspace(db, "bench")
            other = await make_workspace(db, "noise")
            # The other workspace's rows are older, so they do not sit in front of page 1.
            data = contact_rows(other, rows // 10, seed=9) + contact_rows(ws, rows)
            started = time.perf_counter()
            if db.is_sqlite:
                async with db.session() as session:
                    for i in range(0, len(data), 20_000):
                        await session.execute(sa.insert(Contact.__table__), data[i : i + 20_000])
            else:
                await copy_contacts(db_url, data)
                await analyze(db_url)
            load_s = time.perf_counter() - started
            ids_desc = sorted((r["id"] for r in data if r["workspace_id"] == ws), reverse=True)
            deep_cursor = encode_cursor(ids_desc[depth - 1], cursor_scope("", Contact.id))
            gateway_cursor = encode_cursor(
                ids_desc[depth - 1], cursor_scope(list_scope("search_contacts", ws), Contact.id)
            )

            async def page(cursor: str | None) -> list[str]:
                async with db.session(ws, read_only=True) as session:
                    result = await repository.list_contacts(
                        session, ws, query=None, company_id=None, limit=25, cursor=cursor
                    )
                return [c.id for c in result.items]

            assert await page(None) == ids_desc[:25]
            assert await page(deep_cursor) == ids_desc[depth : depth + 25]
            first_ms: list[float] = []
            deep_ms: list[float] = []
            for _ in range(10):  # interleaved rounds, so background load hits both alike
                first_ms += await timed(lambda: page(None), repeat // 10)
                deep_ms += await timed(lambda: page(deep_cursor), repeat // 10)
            first, deep = summary(first_ms), summary(deep_ms)

            settings = Settings(database_url=db_url, _env_file=None)  # type: ignore[call-arg]
            runtime = Runtime(settings, db, RateLimiter(None), platform())
            async with db.session(ws) as session:
                token = (
                    await tokens.issue_token(
                        session,
                        ws,
                        name="bench",
                        scopes=list(ALL_SCOPES),
                        abilities=list(ALL_ABILITIES),
                        rate_limit_per_minute=10**9,
                    )
                ).token
            op = runtime.registry.get("search_contacts")

            async def via_gateway(cursor: str | None) -> None:
                args = {"limit": 25} | ({"cursor": cursor} if cursor else {})
                outcome = await call_operation(
                    runtime, op, credentials=token, channel=Channel.rest, arguments=args
                )
                assert outcome.status == 200, outcome.body

            op_first_ms: list[float] = []
            op_deep_ms: list[float] = []
            for _ in range(5):
                op_first_ms += await timed(lambda: via_gateway(None), repeat // 10)
                op_deep_ms += await timed(lambda: via_gateway(gateway_cursor), repeat // 10)
            op_first, op_deep = summary(op_first_ms), summary(op_deep_ms)
        finally:
            await db.dispose()
    return {
        "engine": "sqlite" if url.startswith("sqlite") else "postgresql",
        "rows_in_workspace": rows,
        "load_seconds": round(load_s, 1),
        "repository_first_page": first,
        f"repository_page_at_depth_{depth}": deep,
        "repository_ratio_p50": round(deep["p50_ms"] / first["p50_ms"], 3),
        "operation_first_page": op_first,
        f"operation_page_at_depth_{depth}": op_deep,
        "operation_ratio_p50": round(op_deep["p50_ms"] / op_first["p50_ms"], 3),
        "goal": "ratio <= 1.3",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--depth", type=int, default=DEPTH)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()

    async def go() -> None:
        print(
            json.dumps(await bench(args.database_url, args.rows, args.depth, args.repeat), indent=2)
        )

    run(go)


if __name__ == "__main__":
    main()
