"""Knowledge inputs and public shapes (descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.fields import OneLine, RecordId, one_line, record_id
from core.knowledge.chunking import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from core.pagination import ListParams

MAX_SEARCH_CHUNKS = 10
DEFAULT_SEARCH_BYTES = 4_096
MAX_SEARCH_BYTES = 16_384


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---------------------------------------------------------------- collections


class CollectionPublic(_Out):
    id: str
    name: str
    description: str | None = None
    chunk_size: int
    chunk_overlap: int
    created_at: datetime
    updated_at: datetime


CHUNK_SIZE = f"Characters per ingested chunk, {MIN_CHUNK_SIZE}-{MAX_CHUNK_SIZE} (default 1000)."
CHUNK_OVERLAP = "Characters shared by consecutive chunks, 0 to half of chunk_size (default 200)."


class CreateCollectionIn(_In):
    name: OneLine = one_line("Collection name.", 200, required=True)
    description: str | None = Field(default=None, max_length=2_000, description="What it holds.")
    chunk_size: int = Field(
        default=1_000, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE, description=CHUNK_SIZE
    )
    chunk_overlap: int = Field(default=200, ge=0, le=MAX_CHUNK_SIZE // 2, description=CHUNK_OVERLAP)


class UpdateCollectionIn(_In):
    collection_id: RecordId = record_id("collection", "kcol", required=True)
    name: OneLine | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    description: str | None = Field(default=None, max_length=2_000, description="What it holds.")
    chunk_size: int | None = Field(
        default=None,
        ge=MIN_CHUNK_SIZE,
        le=MAX_CHUNK_SIZE,
        description="New chunk size (applies to later ingests).",
    )
    chunk_overlap: int | None = Field(
        default=None,
        ge=0,
        le=MAX_CHUNK_SIZE // 2,
        description="New overlap (applies to later ingests).",
    )


class CollectionIdIn(_In):
    collection_id: RecordId = record_id("collection", "kcol", required=True)


class ListCollectionsIn(ListParams):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- articles


class ArticlePublic(_Out):
    id: str
    collection_id: str
    title: str
    body: str | None = None
    source_url: str | None = None
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class CreateArticleIn(_In):
    collection_id: RecordId = record_id("collection", "kcol", required=True)
    title: OneLine = one_line("Article title.", 300, required=True)
    body: str | None = Field(
        default=None,
        max_length=200_000,
        description="Text, cut into chunks on ingest; omit to add chunks yourself.",
    )
    source_url: OneLine | None = one_line("Page it came from.", 2_000)


class UpdateArticleIn(_In):
    article_id: RecordId = record_id("article", "kart", required=True)
    title: OneLine | None = Field(default=None, min_length=1, max_length=300, description="Title.")
    body: str | None = Field(
        default=None, max_length=200_000, description="New text: its chunks are cut again."
    )
    source_url: OneLine | None = one_line("Page it came from.", 2_000)


class ArticleIdIn(_In):
    article_id: RecordId = record_id("article", "kart", required=True)


class ListArticlesIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    collection_id: RecordId | None = record_id("collection to list", "kcol")


# ---------------------------------------------------------------- chunks


class ChunkPublic(_Out):
    id: str
    article_id: str
    collection_id: str
    position: int
    source: Literal["ingest", "manual"]
    heading: str | None = None
    content: str
    created_at: datetime
    updated_at: datetime


class CreateChunkIn(_In):
    article_id: RecordId = record_id("article it belongs to", "kart", required=True)
    content: str = Field(min_length=1, max_length=20_000, description="The chunk's text.")
    heading: OneLine | None = one_line("Section heading.", 300)
    position: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Order in the article (default: last)."
    )


class UpdateChunkIn(_In):
    chunk_id: RecordId = record_id("chunk", "kchk", required=True)
    content: str | None = Field(default=None, min_length=1, max_length=20_000, description="Text.")
    heading: OneLine | None = one_line("Section heading.", 300)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Order.")


class ChunkIdIn(_In):
    chunk_id: RecordId = record_id("chunk", "kchk", required=True)


class ListChunksIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    article_id: RecordId | None = record_id("article whose chunks to list", "kart")
    collection_id: RecordId | None = record_id("collection whose chunks to list", "kcol")


class Deleted(BaseModel):
    id: str
    deleted: bool = True


# ---------------------------------------------------------------- search


class SearchKnowledgeIn(_In):
    query: str = Field(min_length=1, max_length=500, description="Question or keywords.")
    collection_id: RecordId | None = record_id("collection", "kcol")
    max_results: int = Field(default=5, ge=1, le=MAX_SEARCH_CHUNKS, description="How many chunks.")
    max_bytes: int = Field(
        default=DEFAULT_SEARCH_BYTES, ge=256, le=MAX_SEARCH_BYTES, description="Text cap, bytes."
    )


class SearchHit(BaseModel):
    chunk_id: str
    article_id: str
    article_title: str
    heading: str | None = None
    content: str
    score: float
    truncated: bool | None = None


class SearchKnowledgeOut(BaseModel):
    results: list[SearchHit]
    total_bytes: int
