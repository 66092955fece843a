"""Knowledge search and transcript paging at scale.

1. ``search_knowledge`` over 100,000 chunks in one workspace (plus 10,000 in another):
   chunks of ~120 words drawn from a Zipf-distributed vocabulary, loaded with COPY on
   PostgreSQL (the GIN index built after the load, as a bulk import would) or
   executemany on SQLite (the FTS5 triggers index as rows arrive). Then timed through
   the real path, the ``search_knowledge`` service behind the MCP tool (ranked
   full-text query, titles, byte budget), and through the whole operation
   (``core.gateway.call_operation``: token, scope, audit), over a mix of common,
   medium and rare words, two-word queries, questions and misses.
   Goal: p95 ≤ 50 ms on PostgreSQL.
2. One conversation with 100,000 messages: the first page of its transcript vs the page
   after message 90,000 (cursor). Goal: deep / first ≤ 1.3.

    python -m bench.knowledge_search --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.knowledge_search --database-url sqlite:////tmp/bench_knowledge.db
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy as sa

from bench._crm_data import make_workspace, run, scratch_database, summary, timed
from core.config import Settings
from core.conversations import repository as conversations
from core.conversations.models import Conversation, Message
from core.db import Database, utcnow
from core.gateway import call_operation
from core.ids import new_id
from core.knowledge import service as knowledge
from core.knowledge.models import KnowledgeArticle, KnowledgeChunk, KnowledgeCollection
from core.knowledge.schemas import SearchKnowledgeIn
from core.operations import Channel
from core.pagination import encode_cursor, list_scope
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from patchbay.domains import platform

CHUNKS = 100_000
CHUNKS_PER_ARTICLE = 50
MESSAGES = 100_000
DEPTH = 90_000
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tas",
    "vo",
    "zu",
    "pel",
    "dor",
    "fin",
    "gra",
    "hul",
    "ix",
    "jo",
    "nem",
    "or",
    "qua",
    "sil",
    "tor",
    "ul",
    "wex",
    "yar",
]
ENGLISH = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "for",
    "you",
    "your",
    "can",
    "how",
    "do",
    "i",
    "with",
    "on",
    "it",
    "this",
    "that",
    "by",
    "be",
    "are",
    "an",
    "or",
    "from",
    "at",
    "as",
    "not",
]


def vocabulary(size: int = 8_000) -> list[str]:
    rng = random.Random(3)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


VOCAB = vocabulary()
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCAB))]  # Zipf


def chunk_text(rng: random.Random) -> str:
    words = rng.choices(VOCAB, WEIGHTS, k=90) + rng.choices(ENGLISH, k=30)
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def knowledge_rows(ws: str, chunks: int, seed: int) -> tuple[list, list, list]:
    rng = random.Random(seed)
    now = utcnow().replace(tzinfo=None)
    collection = {
        "id": new_id("kcol"),
        "workspace_id": ws,
        "name": "Help center",
        "chunk_size": 1000,
        "chunk_overlap": 200,
        "created_at": now,
        "updated_at": now,
    }
    articles, rows = [], []
    for _a in range(chunks // CHUNKS_PER_ARTICLE):
        article_id = new_id("kart")
        title = " ".join(rng.choices(VOCAB, WEIGHTS, k=3)).capitalize()
        articles.append(
            {
                "id": article_id,
                "workspace_id": ws,
                "collection_id": collection["id"],
                "title": title,
                "chunk_count": CHUNKS_PER_ARTICLE,
                "created_at": now,
                "updated_at": now,
            }
        )
        for p in range(CHUNKS_PER_ARTICLE):
            rows.append(
                {
                    "id": new_id("kchk"),
                    "workspace_id": ws,
                    "article_id": article_id,
                    "collection_id": collection["id"],
                    "position": p,
                    "source": "ingest",
                    "heading": title,
                    "content": chunk_text(rng),
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return [collection], articles, rows


def queries(rng: random.Random, n: int) -> list[tuple[str, str]]:
    def band(lo: int, hi: int) -> str:
        return VOCAB[rng.randrange(lo, hi)]

    kinds = {
        "common_word": lambda: band(5, 50),
        "medium_word": lambda: band(50, 1_000),
        "rare_word": lambda: band(1_000, 8_000),
        "two_words": lambda: f"{band(20, 500)} {band(100, 3_000)}",
        "question": lambda: f"how do I {band(20, 300)} the {band(100, 2_000)}?",
        "three_rare": lambda: " ".join(band(500, 8_000) for _ in range(3)),
        "miss": lambda: rng.choice(["xylophone", "nothing here", "qqqz"]),
    }
    names = list(kinds)
    return [(kind, kinds[kind]()) for kind in (names[i % len(names)] for i in range(n))]


async def load(db: Database, url: str, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if db.is_sqlite:  # through the ORM's column types: aware datetimes
        rows = [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
                 for k, v in r.items()} for r in rows]  # fmt: skip
        async with db.session() as session:
            for i in range(0, len(rows), 10_000):
                await session.execute(sa.insert(table.__table__), rows[i : i + 10_000])
        return
    columns = list(rows[0])
    conn = await asyncpg.connect(url)
    try:
        records = [tuple(r[c] for c in columns) for r in rows]
        await conn.copy_records_to_table(table.__tablename__, records=records, columns=columns)
    finally:
        await conn.close()


async def owner_sql(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def bench(url: str, chunks: int, messages: int, depth: int, searches: int) -> dict:
    sqlite = url.startswith("sqlite")
    async with scratch_database(url, "knowledge") as db_url:
        db = Database(db_url)
        db.platform = platform()
        try:
            ws = await make_workspace(db, "bench")
            noise = await make_workspace(db, "noise")
            started = time.perf_counter()
            if not sqlite:
                await owner_sql(db_url, "DROP INDEX ix_knowledge_chunks_search_tsv")
            for workspace, count, seed in ((noise, chunks // 10, 9), (ws, chunks, 1)):
                collections, articles, rows = knowledge_rows(workspace, count, seed)
                await load(db, db_url, KnowledgeCollection, collections)
                await load(db, db_url, KnowledgeArticle, articles)
                for i in range(0, len(rows), 25_000):
                    await load(db, db_url, KnowledgeChunk, rows[i : i + 25_000])
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            if not sqlite:
                await owner_sql(
                    db_url,
                    "SET maintenance_work_mem = '512MB'",
                    "CREATE INDEX ix_knowledge_chunks_search_tsv ON knowledge_chunks "
                    "USING gin (search_vector)",
                    "VACUUM ANALYZE knowledge_chunks",
                    "VACUUM ANALYZE knowledge_articles",
                )
            index_s = time.perf_counter() - started

            async def search(q: str) -> int:
                async with db.session(ws, read_only=True) as session:
                    out = await knowledge.search_knowledge(session, ws, SearchKnowledgeIn(query=q))
                assert out.total_bytes <= 4096
                return len(out.results)

            rng = random.Random(42)
            for _, q in queries(rng, 30):
                await search(q)
            by_kind: dict[str, list[float]] = {}
            hits: dict[str, int] = {}
            all_ms: list[float] = []
            for kind, q in queries(rng, searches):
                t0 = time.perf_counter()
                found = await search(q)
                ms = (time.perf_counter() - t0) * 1000
                all_ms.append(ms)
                by_kind.setdefault(kind, []).append(ms)
                hits[kind] = hits.get(kind, 0) + (found > 0)

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
            search_op = runtime.registry.get("search_knowledge")
            op_ms: list[float] = []
            for _, q in queries(rng, searches // 2):
                t0 = time.perf_counter()
                outcome = await call_operation(
                    runtime,
                    search_op,
                    credentials=token,
                    channel=Channel.mcp,
                    arguments={"query": q},
                )
                assert outcome.status == 200, outcome.body
                op_ms.append((time.perf_counter() - t0) * 1000)

            # a 100k-message thread
            now = utcnow().replace(tzinfo=None)
            conv = {
                "id": new_id("conv"),
                "workspace_id": ws,
                "channel": "chat",
                "status": "active",
                "message_count": messages,
                "created_at": now,
                "updated_at": now,
            }
            other = {**conv, "id": new_id("conv")}
            await load(db, db_url, Conversation, [other, conv])
            started = time.perf_counter()
            ids: list[str] = []
            for c, count in ((other, messages // 10), (conv, messages)):
                rows = []
                for i in range(count):
                    rows.append(
                        {
                            "id": new_id("msg"),
                            "workspace_id": ws,
                            "conversation_id": c["id"],
                            "author_type": ("contact", "agent")[i % 2],
                            "body": f"message {i} " + chunk_text(rng)[:200],
                            "created_at": now,
                        }
                    )
                if c is conv:
                    ids = [r["id"] for r in rows]
                for i in range(0, len(rows), 25_000):
                    await load(db, db_url, Message, rows[i : i + 25_000])
            if not sqlite:
                await owner_sql(db_url, "VACUUM ANALYZE conversation_messages")
            thread_load_s = time.perf_counter() - started
            ids.sort()
            scope = f"|conversation_messages.id asc|{conv['id']}"
            deep_cursor = encode_cursor(ids[depth - 1], scope)

            async def page(cursor: str | None) -> list[str]:
                async with db.session(ws, read_only=True) as session:
                    result = await conversations.list_messages(
                        session, ws, conv["id"], limit=25, cursor=cursor
                    )
                return [m.id for m in result.items]

            assert await page(None) == ids[:25]
            assert await page(deep_cursor) == ids[depth : depth + 25]
            first_ms: list[float] = []
            deep_ms: list[float] = []
            for _ in range(10):
                first_ms += await timed(lambda: page(None), 20)
                deep_ms += await timed(lambda: page(deep_cursor), 20)
            list_op = runtime.registry.get("list_messages")
            op_scope = list_scope("list_messages", ws) + scope
            op_cursor = encode_cursor(ids[depth - 1], op_scope)

            async def via_gateway(cursor: str | None) -> None:
                args = {"conversation_id": conv["id"], "limit": 25}
                outcome = await call_operation(
                    runtime,
                    list_op,
                    credentials=token,
                    channel=Channel.rest,
                    arguments=args | ({"cursor": cursor} if cursor else {}),
                )
                assert outcome.status == 200, outcome.body

            op_first: list[float] = []
            op_deep: list[float] = []
            for _ in range(5):
                op_first += await timed(lambda: via_gateway(None), 20)
                op_deep += await timed(lambda: via_gateway(op_cursor), 20)
        finally:
            await db.dispose()
    first, deep = summary(first_ms), summary(deep_ms)
    of, od = summary(op_first), summary(op_deep)
    return {
        "engine": "sqlite" if sqlite else "postgresql",
        "search": {
            "chunks_in_workspace": chunks,
            "chunks_in_other_workspace": chunks // 10,
            "load_seconds": round(load_s, 1),
            "index_build_seconds": round(index_s, 1),
            "searches": searches,
            "service": summary(all_ms),
            "operation_mcp": summary(op_ms),
            "by_kind": {
                k: {**summary(v), "with_results": f"{hits[k]}/{len(v)}"} for k, v in by_kind.items()
            },
            "goal": "p95 <= 50 ms (PostgreSQL)",
        },
        "thread": {
            "messages_in_thread": messages,
            "load_seconds": round(thread_load_s, 1),
            "repository_first_page": first,
            f"repository_page_at_depth_{depth}": deep,
            "repository_ratio_p50": round(deep["p50_ms"] / first["p50_ms"], 3),
            "operation_first_page": of,
            f"operation_page_at_depth_{depth}": od,
            "operation_ratio_p50": round(od["p50_ms"] / of["p50_ms"], 3),
            "goal": "ratio <= 1.3",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--chunks", type=int, default=CHUNKS)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--depth", type=int, default=DEPTH)
    parser.add_argument("--searches", type=int, default=420)
    args = parser.parse_args()

    async def go() -> None:
        result = await bench(
            args.database_url, args.chunks, args.messages, args.depth, args.searches
        )
        print(json.dumps(result, indent=2))

    run(go)


if __name__ == "__main__":
    main()
