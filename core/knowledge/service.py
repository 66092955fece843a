"""Knowledge rules: an article's body is cut into chunks on ingest (its collection's size
and overlap), chunks sent by hand are kept, every change is a ``knowledge.updated``
event. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.errors import NotFound, Unprocessable
from core.events.service import emit
from core.ids import new_id
from core.knowledge import repository
from core.knowledge.chunking import chunk_text
from core.knowledge.models import KnowledgeArticle, KnowledgeChunk, KnowledgeCollection
from core.knowledge.schemas import (
    CreateArticleIn,
    CreateChunkIn,
    CreateCollectionIn,
    SearchHit,
    SearchKnowledgeIn,
    SearchKnowledgeOut,
    UpdateArticleIn,
    UpdateChunkIn,
    UpdateCollectionIn,
)
from core.knowledge.search import search_chunks

MIN_TRUNCATED_BYTES = 200
"""A hit that does not fit the byte budget is cut to what is left, if at least this much."""


async def _require(session: AsyncSession, model: Any, ws: WorkspaceId, id_: str, what: str) -> Any:
    row = await repository.get(session, model, ws, id_)
    if row is None:
        raise NotFound(what, id_)
    return row


async def get_collection(session: AsyncSession, ws: WorkspaceId, id_: str) -> KnowledgeCollection:
    return await _require(session, KnowledgeCollection, ws, id_, "collection")


CHECK_COLLECTION = "check_knowledge_collection"
"""Capability: ``(session, workspace, collection id)``, 404 ``collection_not_found``
unless the workspace has it (agents name the collection they answer from)."""


async def check_collection(session: AsyncSession, ws: WorkspaceId, id_: str) -> None:
    await get_collection(session, ws, id_)


async def get_article(session: AsyncSession, ws: WorkspaceId, id_: str) -> KnowledgeArticle:
    return await _require(session, KnowledgeArticle, ws, id_, "article")


async def get_chunk(session: AsyncSession, ws: WorkspaceId, id_: str) -> KnowledgeChunk:
    return await _require(session, KnowledgeChunk, ws, id_, "chunk")


async def _changed(session: AsyncSession, ws: WorkspaceId, change: str, **ids: Any) -> None:
    data = {"change": change, **{k: v for k, v in ids.items() if v is not None}}
    await emit(session, ws, "knowledge.updated", data)


# ---------------------------------------------------------------- collections


def _check_overlap(size: int, overlap: int) -> None:
    if overlap > size // 2:
        raise Unprocessable(
            f"chunk_overlap ({overlap}) may be at most half of chunk_size ({size}).",
            code="chunk_overlap_too_large",
        )


async def create_collection(
    session: AsyncSession, ws: WorkspaceId, a: CreateCollectionIn
) -> KnowledgeCollection:
    _check_overlap(a.chunk_size, a.chunk_overlap)
    now = utcnow()
    collection = KnowledgeCollection(
        id=new_id("kcol"), workspace_id=ws, created_at=now, updated_at=now, **a.model_dump()
    )
    session.add(collection)
    await session.flush()
    await _changed(session, ws, "collection_created", collection_id=collection.id)
    return collection


async def update_collection(
    session: AsyncSession, ws: WorkspaceId, a: UpdateCollectionIn
) -> KnowledgeCollection:
    collection = await get_collection(session, ws, a.collection_id)
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "collection_id"}
    for key in ("name", "chunk_size", "chunk_overlap"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    size = changes.get("chunk_size", collection.chunk_size)
    overlap = changes.get("chunk_overlap", collection.chunk_overlap)
    _check_overlap(size, overlap)
    for key, value in changes.items():
        setattr(collection, key, value)
    collection.updated_at = utcnow()
    await session.flush()
    await _changed(session, ws, "collection_updated", collection_id=collection.id)
    return collection


# ---------------------------------------------------------------- articles


async def _ingest(
    session: AsyncSession, ws: WorkspaceId, article: KnowledgeArticle, size: int, overlap: int
) -> None:
    """Replace the article's ingested chunks by the chunks of its body."""
    await repository.delete_chunks(session, ws, article.id, source="ingest")
    now = utcnow()
    pieces = chunk_text(article.body or "", size, overlap)
    session.add_all(
        KnowledgeChunk(
            id=new_id("kchk"),
            workspace_id=ws,
            article_id=article.id,
            collection_id=article.collection_id,
            position=i,
            source="ingest",
            heading=article.title[:300],
            content=piece,
            created_at=now,
            updated_at=now,
        )
        for i, piece in enumerate(pieces)
    )
    await session.flush()


async def _recount(session: AsyncSession, ws: WorkspaceId, article: KnowledgeArticle) -> None:
    article.chunk_count = await repository.count_chunks(session, ws, article.id)


async def create_article(
    session: AsyncSession, ws: WorkspaceId, a: CreateArticleIn
) -> KnowledgeArticle:
    collection = await get_collection(session, ws, a.collection_id)
    now = utcnow()
    article = KnowledgeArticle(
        id=new_id("kart"), workspace_id=ws, created_at=now, updated_at=now, **a.model_dump()
    )
    session.add(article)
    await session.flush()
    if article.body:
        await _ingest(session, ws, article, collection.chunk_size, collection.chunk_overlap)
        await _recount(session, ws, article)
        await session.flush()
    await _changed(
        session,
        ws,
        "article_created",
        collection_id=article.collection_id,
        article_id=article.id,
        chunk_count=article.chunk_count,
    )
    return article


async def update_article(
    session: AsyncSession, ws: WorkspaceId, a: UpdateArticleIn
) -> KnowledgeArticle:
    article = await get_article(session, ws, a.article_id)
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "article_id"}
    if changes.get("title", "") is None:
        changes.pop("title")
    for key, value in changes.items():
        setattr(article, key, value)
    article.updated_at = utcnow()
    if "body" in changes or "title" in changes:  # the title is every ingested chunk's heading
        collection = await get_collection(session, ws, article.collection_id)
        await _ingest(session, ws, article, collection.chunk_size, collection.chunk_overlap)
        await _recount(session, ws, article)
    await session.flush()
    await _changed(
        session,
        ws,
        "article_updated",
        collection_id=article.collection_id,
        article_id=article.id,
        chunk_count=article.chunk_count,
    )
    return article


async def delete_article(session: AsyncSession, ws: WorkspaceId, article_id: str) -> str:
    article = await get_article(session, ws, article_id)
    await repository.delete_chunks(session, ws, article.id)
    await session.delete(article)
    await session.flush()
    await _changed(
        session, ws, "article_deleted", collection_id=article.collection_id, article_id=article.id
    )
    return article.id


# ---------------------------------------------------------------- chunks


async def create_chunk(session: AsyncSession, ws: WorkspaceId, a: CreateChunkIn) -> KnowledgeChunk:
    """The manual ingest path: a chunk the caller cut, kept when the body is re-ingested."""
    article = await get_article(session, ws, a.article_id)
    position = a.position
    if position is None:
        last = await repository.last_position(session, ws, article.id)
        position = 0 if last is None else last + 1
    now = utcnow()
    chunk = KnowledgeChunk(
        id=new_id("kchk"),
        workspace_id=ws,
        article_id=article.id,
        collection_id=article.collection_id,
        position=position,
        source="manual",
        heading=a.heading,
        content=a.content,
        created_at=now,
        updated_at=now,
    )
    session.add(chunk)
    await session.flush()
    article.chunk_count += 1
    article.updated_at = now
    await session.flush()
    await _changed(
        session,
        ws,
        "chunk_created",
        collection_id=chunk.collection_id,
        article_id=article.id,
        chunk_id=chunk.id,
    )
    return chunk


async def update_chunk(session: AsyncSession, ws: WorkspaceId, a: UpdateChunkIn) -> KnowledgeChunk:
    chunk = await get_chunk(session, ws, a.chunk_id)
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "chunk_id"}
    for key in ("content", "position"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    for key, value in changes.items():
        setattr(chunk, key, value)
    chunk.updated_at = utcnow()
    await session.flush()
    await _changed(
        session,
        ws,
        "chunk_updated",
        collection_id=chunk.collection_id,
        article_id=chunk.article_id,
        chunk_id=chunk.id,
    )
    return chunk


async def delete_chunk(session: AsyncSession, ws: WorkspaceId, chunk_id: str) -> str:
    chunk = await get_chunk(session, ws, chunk_id)
    article = await get_article(session, ws, chunk.article_id)
    await session.delete(chunk)
    await session.flush()
    await _recount(session, ws, article)
    article.updated_at = utcnow()
    await session.flush()
    await _changed(
        session,
        ws,
        "chunk_deleted",
        collection_id=chunk.collection_id,
        article_id=chunk.article_id,
        chunk_id=chunk.id,
    )
    return chunk.id


# ---------------------------------------------------------------- search


def _utf8_prefix(text: str, size: int) -> str:
    return text.encode()[:size].decode(errors="ignore")


async def search_knowledge(
    session: AsyncSession, ws: WorkspaceId, a: SearchKnowledgeIn
) -> SearchKnowledgeOut:
    """The best chunks for ``a.query``, at most ``a.max_results`` and ``a.max_bytes`` of text
    (content, heading and title): the last one is cut to fit, or left out when less than
    ``MIN_TRUNCATED_BYTES`` would remain."""
    if a.collection_id is not None:
        await get_collection(session, ws, a.collection_id)
    matches = await search_chunks(
        session, ws, a.query, collection_id=a.collection_id, limit=a.max_results
    )
    hits: list[SearchHit] = []
    used = 0
    for m in matches:
        title = m.article_title
        overhead = len(title.encode()) + len((m.heading or "").encode())
        size = overhead + len(m.content.encode())
        if used + size <= a.max_bytes:
            hits.append(
                SearchHit(
                    chunk_id=m.id,
                    article_id=m.article_id,
                    article_title=title,
                    heading=m.heading,
                    content=m.content,
                    score=m.score,
                )
            )
            used += size
            continue
        room = a.max_bytes - used - overhead
        if room >= MIN_TRUNCATED_BYTES:
            content = _utf8_prefix(m.content, room)
            hits.append(
                SearchHit(
                    chunk_id=m.id,
                    article_id=m.article_id,
                    article_title=title,
                    heading=m.heading,
                    content=content,
                    score=m.score,
                    truncated=True,
                )
            )
            used += overhead + len(content.encode())
        break
    return SearchKnowledgeOut(results=hits, total_bytes=used)
