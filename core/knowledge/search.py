"""Full-text search over knowledge chunks, ranked by relevance, on either engine.

- PostgreSQL: ``knowledge_chunks.search_vector`` is a stored generated tsvector
  (``english`` configuration: stemmed, stop words dropped; the heading weighted A, the
  content D) with a GIN index; matches are ranked with ``ts_rank``. Under row-level
  security the planner will not use ``@@`` (not a leakproof operator) as an index
  condition, so the search reads the ``knowledge_chunks_search`` view: the current
  workspace's chunks, read with the owner's rights, filtered by the same tenant setting
  the policy compares (as ``core.search`` does for contacts).
- SQLite: the FTS5 table ``knowledge_chunks_fts(heading, content)`` (porter stemmer) is
  an external-content index kept in sync by triggers; matches are ranked with ``bm25``
  (the heading counts twice), joined back to the workspace's chunks by rowid.

The query's words are first all required (AND); when that finds fewer chunks than
asked for, chunks matching any of the words (OR) fill the rest, ranked after them. At
most ``RANK_POOL`` matches are ranked per query (see there).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.search import dialect_name, query_tokens


@dataclass
class Match:
    id: str
    article_id: str
    heading: str | None
    content: str
    score: float
    article_title: str


RANK_POOL = 1_000
"""At most this many matching chunks are ranked: a query that matches more (a word found
in most chunks, which says little about any of them) is ranked among the first
``RANK_POOL`` matches the index yields, so its cost stays bounded (ranking reads every
candidate's text vector). A query with a rarer word ranks every match."""

_PG = """
SELECT r.id, r.article_id, r.heading, r.content, r.score, a.title AS article_title
FROM (
    SELECT m.id, m.article_id, m.heading, m.content, ts_rank(m.search_vector, q.q) AS score
    FROM (SELECT to_tsquery('english', :query) AS q) AS q
    CROSS JOIN LATERAL (
        SELECT id, article_id, heading, content, search_vector FROM knowledge_chunks_search
        WHERE search_vector @@ q.q {collection}
        LIMIT :pool
    ) AS m
    ORDER BY score DESC, m.id DESC
    LIMIT :limit
) AS r JOIN knowledge_articles AS a ON a.workspace_id = :ws AND a.id = r.article_id
ORDER BY r.score DESC, r.id DESC
"""

_SQLITE = """
SELECT c.id, c.article_id, c.heading, c.content, m.score, a.title AS article_title
FROM (
    SELECT c.rowid AS rid, -bm25(knowledge_chunks_fts, 2.0, 1.0) AS score
    FROM knowledge_chunks_fts
    JOIN knowledge_chunks AS c ON c.rowid = knowledge_chunks_fts.rowid
    WHERE knowledge_chunks_fts MATCH :query AND c.workspace_id = :ws {collection}
    LIMIT :pool
) AS m JOIN knowledge_chunks AS c ON c.rowid = m.rid
JOIN knowledge_articles AS a ON a.workspace_id = c.workspace_id AND a.id = c.article_id
ORDER BY m.score DESC, c.id DESC
LIMIT :limit
"""


def _expression(tokens: list[str], operator: str, sqlite: bool) -> str:
    if sqlite:
        return f" {operator} ".join('"' + t.replace('"', "") + '"' for t in tokens)
    return f" {'&' if operator == 'AND' else '|'} ".join(tokens)


async def search_chunks(
    session: AsyncSession,
    ws: WorkspaceId,
    query: str,
    *,
    collection_id: str | None,
    limit: int,
) -> list[Match]:
    """The ``limit`` chunks of the workspace that best match ``query``, best first."""
    tokens = query_tokens(query)
    if not tokens:
        return []
    sqlite = dialect_name(session) == "sqlite"
    where = ""
    if collection_id is not None:
        where = "AND c.collection_id = :collection" if sqlite else "AND collection_id = :collection"
    sql = sa.text((_SQLITE if sqlite else _PG).format(collection=where))
    found: dict[str, Match] = {}
    for operator in ("AND", "OR") if len(tokens) > 1 else ("AND",):
        params: dict[str, object] = {
            "query": _expression(tokens, operator, sqlite),
            "limit": limit,
            "pool": RANK_POOL,
            "ws": ws,
        }
        if collection_id is not None:
            params["collection"] = collection_id
        for row in (await session.execute(sql, params)).all():
            if row.id not in found and len(found) < limit:
                found[row.id] = Match(
                    row.id, row.article_id, row.heading, row.content,
                    round(float(row.score), 6), row.article_title,
                )  # fmt: skip
        if len(found) >= limit:
            break
    return list(found.values())
