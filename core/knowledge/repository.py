"""Knowledge queries. Every function takes the caller's ``WorkspaceId`` and filters by it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.knowledge.models import KnowledgeArticle, KnowledgeChunk, KnowledgeCollection
from core.pagination import Page, paginate


async def get(session: AsyncSession, model: Any, ws: WorkspaceId, id_: str) -> Any:
    """The workspace's ``model`` row with this id, or None (foreign ids too)."""
    return await session.get(model, (ws, id_))


async def list_collections(
    session: AsyncSession, ws: WorkspaceId, *, limit: int, cursor: str | None
) -> Page[KnowledgeCollection]:
    stmt = select(KnowledgeCollection).where(KnowledgeCollection.workspace_id == ws)
    return await paginate(session, stmt, KnowledgeCollection.id, limit=limit, cursor=cursor)


async def list_articles(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    collection_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[KnowledgeArticle]:
    stmt = select(KnowledgeArticle).where(KnowledgeArticle.workspace_id == ws)
    if collection_id is not None:
        stmt = stmt.where(KnowledgeArticle.collection_id == collection_id)
    return await paginate(session, stmt, KnowledgeArticle.id, limit=limit, cursor=cursor)


async def list_chunks(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    article_id: str | None,
    collection_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[KnowledgeChunk]:
    stmt = select(KnowledgeChunk).where(KnowledgeChunk.workspace_id == ws)
    if article_id is not None:
        stmt = stmt.where(KnowledgeChunk.article_id == article_id)
    if collection_id is not None:
        stmt = stmt.where(KnowledgeChunk.collection_id == collection_id)
    return await paginate(session, stmt, KnowledgeChunk.id, limit=limit, cursor=cursor)


async def delete_chunks(
    session: AsyncSession, ws: WorkspaceId, article_id: str, *, source: str | None = None
) -> None:
    """Delete the article's chunks (only those of ``source`` when given)."""
    stmt = sa.delete(KnowledgeChunk).where(
        KnowledgeChunk.workspace_id == ws, KnowledgeChunk.article_id == article_id
    )
    if source is not None:
        stmt = stmt.where(KnowledgeChunk.source == source)
    await session.execute(stmt.execution_options(synchronize_session=False))


async def count_chunks(session: AsyncSession, ws: WorkspaceId, article_id: str) -> int:
    stmt = (
        select(sa.func.count())
        .select_from(KnowledgeChunk)
        .where(KnowledgeChunk.workspace_id == ws, KnowledgeChunk.article_id == article_id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def last_position(session: AsyncSession, ws: WorkspaceId, article_id: str) -> int | None:
    stmt = select(sa.func.max(KnowledgeChunk.position)).where(
        KnowledgeChunk.workspace_id == ws, KnowledgeChunk.article_id == article_id
    )
    return (await session.execute(stmt)).scalar_one()
