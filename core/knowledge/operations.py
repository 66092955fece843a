"""Knowledge operations (scopes ``knowledge:read`` / ``knowledge:write``, toolset
``knowledge``): collections, articles, chunks (the manual ingest path) and search."""

from __future__ import annotations

from core.errors import NotFound, Unprocessable, ValidationFailed
from core.knowledge import repository, service
from core.knowledge.models import KnowledgeArticle, KnowledgeChunk, KnowledgeCollection
from core.knowledge.schemas import (
    ArticleIdIn,
    ArticlePublic,
    ChunkIdIn,
    ChunkPublic,
    CollectionIdIn,
    CollectionPublic,
    CreateArticleIn,
    CreateChunkIn,
    CreateCollectionIn,
    Deleted,
    ListArticlesIn,
    ListChunksIn,
    ListCollectionsIn,
    SearchKnowledgeIn,
    SearchKnowledgeOut,
    UpdateArticleIn,
    UpdateChunkIn,
    UpdateCollectionIn,
)
from core.operations import Context, Declare, Kind, Toolset
from core.pagination import Page

knowledge = Declare(
    scope="knowledge",
    toolset="knowledge",
    writes_emit_events=True,
    errors=(NotFound, ValidationFailed, Unprocessable),
)


async def list_collections(ctx: Context, a: ListCollectionsIn) -> Page[KnowledgeCollection]:
    return await repository.list_collections(
        ctx.session, ctx.workspace_id, limit=a.limit, cursor=a.cursor
    )


async def create_collection(ctx: Context, a: CreateCollectionIn) -> KnowledgeCollection:
    collection = await service.create_collection(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = collection.id
    return collection


async def get_collection(ctx: Context, a: CollectionIdIn) -> KnowledgeCollection:
    return await service.get_collection(ctx.session, ctx.workspace_id, a.collection_id)


async def update_collection(ctx: Context, a: UpdateCollectionIn) -> KnowledgeCollection:
    ctx.resource_id = a.collection_id
    return await service.update_collection(ctx.session, ctx.workspace_id, a)


async def list_articles(ctx: Context, a: ListArticlesIn) -> Page[KnowledgeArticle]:
    if a.collection_id is not None:
        await service.get_collection(ctx.session, ctx.workspace_id, a.collection_id)
    return await repository.list_articles(
        ctx.session, ctx.workspace_id, collection_id=a.collection_id, limit=a.limit, cursor=a.cursor
    )


async def create_article(ctx: Context, a: CreateArticleIn) -> KnowledgeArticle:
    article = await service.create_article(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = article.id
    return article


async def get_article(ctx: Context, a: ArticleIdIn) -> KnowledgeArticle:
    return await service.get_article(ctx.session, ctx.workspace_id, a.article_id)


async def update_article(ctx: Context, a: UpdateArticleIn) -> KnowledgeArticle:
    ctx.resource_id = a.article_id
    return await service.update_article(ctx.session, ctx.workspace_id, a)


async def delete_article(ctx: Context, a: ArticleIdIn) -> Deleted:
    ctx.resource_id = a.article_id
    return Deleted(id=await service.delete_article(ctx.session, ctx.workspace_id, a.article_id))


async def list_chunks(ctx: Context, a: ListChunksIn) -> Page[KnowledgeChunk]:
    if a.article_id is not None:
        await service.get_article(ctx.session, ctx.workspace_id, a.article_id)
    if a.collection_id is not None:
        await service.get_collection(ctx.session, ctx.workspace_id, a.collection_id)
    return await repository.list_chunks(
        ctx.session,
        ctx.workspace_id,
        article_id=a.article_id,
        collection_id=a.collection_id,
        limit=a.limit,
        cursor=a.cursor,
    )


async def create_chunk(ctx: Context, a: CreateChunkIn) -> KnowledgeChunk:
    chunk = await service.create_chunk(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = chunk.id
    return chunk


async def get_chunk(ctx: Context, a: ChunkIdIn) -> KnowledgeChunk:
    return await service.get_chunk(ctx.session, ctx.workspace_id, a.chunk_id)


async def update_chunk(ctx: Context, a: UpdateChunkIn) -> KnowledgeChunk:
    ctx.resource_id = a.chunk_id
    return await service.update_chunk(ctx.session, ctx.workspace_id, a)


async def delete_chunk(ctx: Context, a: ChunkIdIn) -> Deleted:
    ctx.resource_id = a.chunk_id
    return Deleted(id=await service.delete_chunk(ctx.session, ctx.workspace_id, a.chunk_id))


async def search_knowledge(ctx: Context, a: SearchKnowledgeIn) -> SearchKnowledgeOut:
    return await service.search_knowledge(ctx.session, ctx.workspace_id, a)


COLLECTIONS = "/knowledge/collections"
ARTICLES = "/knowledge/articles"
CHUNKS = "/knowledge/chunks"

OPERATIONS = [
    knowledge.action(
        "search_knowledge",
        "GET",
        "/knowledge/search",
        search_knowledge,
        SearchKnowledgeIn,
        SearchKnowledgeOut,
        kind=Kind.read,
        toolset="knowledge_search",
        summary="Search knowledge",
        description="Best chunks for a question, ranked, with their article ids.",
    ),
    knowledge.list(
        "list_knowledge_collections",
        COLLECTIONS,
        list_collections,
        ListCollectionsIn,
        CollectionPublic,
        summary="List knowledge collections",
        description="Knowledge collections, newest first.",
    ),
    knowledge.create(
        "create_knowledge_collection",
        COLLECTIONS,
        create_collection,
        CreateCollectionIn,
        CollectionPublic,
        summary="Create a knowledge collection",
        description="A collection of articles, with its chunk size and overlap for ingest.",
    ),
    knowledge.get(
        "get_knowledge_collection",
        COLLECTIONS + "/{collection_id}",
        get_collection,
        CollectionIdIn,
        CollectionPublic,
        summary="Get a knowledge collection",
        description="One knowledge collection and its chunk settings.",
    ),
    knowledge.update(
        "update_knowledge_collection",
        COLLECTIONS + "/{collection_id}",
        update_collection,
        UpdateCollectionIn,
        CollectionPublic,
        summary="Update a knowledge collection",
        description="Rename it or change its chunk settings (later ingests use them).",
    ),
    knowledge.list(
        "list_knowledge_articles",
        ARTICLES,
        list_articles,
        ListArticlesIn,
        ArticlePublic,
        summary="List knowledge articles",
        description="Articles, newest first, by collection.",
        errors=(NotFound,),
    ),
    knowledge.create(
        "create_knowledge_article",
        ARTICLES,
        create_article,
        CreateArticleIn,
        ArticlePublic,
        summary="Add a knowledge article",
        description="Add an article to a collection; its body is cut into chunks.",
    ),
    knowledge.get(
        "get_knowledge_article",
        ARTICLES + "/{article_id}",
        get_article,
        ArticleIdIn,
        ArticlePublic,
        summary="Get a knowledge article",
        description="One article, with its body and chunk count.",
    ),
    knowledge.update(
        "update_knowledge_article",
        ARTICLES + "/{article_id}",
        update_article,
        UpdateArticleIn,
        ArticlePublic,
        summary="Update a knowledge article",
        description="Change an article; a new body or title re-cuts its ingested chunks.",
    ),
    knowledge.delete(
        "delete_knowledge_article",
        ARTICLES + "/{article_id}",
        delete_article,
        ArticleIdIn,
        Deleted,
        summary="Delete a knowledge article",
        description="Delete an article and all its chunks.",
    ),
    knowledge.list(
        "list_knowledge_chunks",
        CHUNKS,
        list_chunks,
        ListChunksIn,
        ChunkPublic,
        summary="List knowledge chunks",
        description="Chunks, newest first, by article.",
        errors=(NotFound,),
    ),
    knowledge.create(
        "create_knowledge_chunk",
        CHUNKS,
        create_chunk,
        CreateChunkIn,
        ChunkPublic,
        summary="Add a knowledge chunk",
        description="Manual ingest: add a chunk you cut to an article (kept on re-ingest).",
    ),
    knowledge.get(
        "get_knowledge_chunk",
        CHUNKS + "/{chunk_id}",
        get_chunk,
        ChunkIdIn,
        ChunkPublic,
        summary="Get a knowledge chunk",
        description="One chunk with its article and position.",
    ),
    knowledge.update(
        "update_knowledge_chunk",
        CHUNKS + "/{chunk_id}",
        update_chunk,
        UpdateChunkIn,
        ChunkPublic,
        summary="Update a knowledge chunk",
        description="Edit a chunk's text, heading or position.",
    ),
    knowledge.delete(
        "delete_knowledge_chunk",
        CHUNKS + "/{chunk_id}",
        delete_chunk,
        ChunkIdIn,
        Deleted,
        summary="Delete a knowledge chunk",
        description="Delete one chunk of an article.",
    ),
]

TOOLSETS = (
    Toolset("knowledge_search", "Search the knowledge base (search_knowledge).", default=True),
    Toolset("knowledge", "Knowledge base: collections, articles and chunks."),
)
