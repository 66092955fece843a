"""Knowledge tables: collections, articles, chunks.

A chunk's text is searched with the engine's full-text index, created by the migration
(``0012_conversations``): on PostgreSQL a stored ``search_vector`` tsvector column
(generated from heading and content) with a GIN index, read through the
``knowledge_chunks_search`` view (``core.knowledge.search`` says why); on SQLite the FTS5
table ``knowledge_chunks_fts`` kept in sync by triggers. Neither is declared here.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_fk, tenant_pk, workspace_fk

DEFAULT_CHUNK_SIZE = 1_000
DEFAULT_CHUNK_OVERLAP = 200


class KnowledgeCollection(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "knowledge_collections"
    __table_args__ = (tenant_pk("knowledge_collections"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class KnowledgeArticle(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "knowledge_articles"
    __table_args__ = (
        tenant_pk("knowledge_articles"),
        tenant_fk("knowledge_articles", "collection_id", "knowledge_collections"),
        sa.Index(
            "ix_knowledge_articles_workspace_id_collection_id_id",
            "workspace_id",
            "collection_id",
            "id",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    collection_id: str = Field(max_length=40)
    title: str = Field(max_length=300)
    body: str | None = Field(default=None, max_length=200_000)
    source_url: str | None = Field(default=None, max_length=2_000)
    chunk_count: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class KnowledgeChunk(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        tenant_pk("knowledge_chunks"),
        tenant_fk("knowledge_chunks", "article_id", "knowledge_articles", ondelete="CASCADE"),
        tenant_fk("knowledge_chunks", "collection_id", "knowledge_collections"),
        sa.Index(
            "ix_knowledge_chunks_workspace_id_article_id_position",
            "workspace_id",
            "article_id",
            "position",
        ),
        sa.Index(
            "ix_knowledge_chunks_workspace_id_collection_id_id",
            "workspace_id",
            "collection_id",
            "id",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    article_id: str = Field(max_length=40)
    collection_id: str = Field(max_length=40)
    position: int = 0
    source: str = Field(max_length=10)
    """``ingest``: cut from the article's body (replaced when the body changes);
    ``manual``: sent as a chunk (kept)."""
    heading: str | None = Field(default=None, max_length=300)
    content: str = Field(max_length=20_000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
