"""The knowledge domain: collections, articles, chunks and full-text search over them."""

from core.domain import Domain, Sample
from core.knowledge.models import KnowledgeArticle, KnowledgeChunk, KnowledgeCollection
from core.knowledge.operations import OPERATIONS, TOOLSETS
from core.knowledge.service import CHECK_COLLECTION, check_collection

DOMAIN = Domain(
    name="knowledge",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(KnowledgeCollection, KnowledgeArticle, KnowledgeChunk),
    provides={CHECK_COLLECTION: check_collection},
    event_types={
        "knowledge.updated": (
            "The knowledge base changed: a collection, an article or a chunk was created, "
            "changed or deleted (change names which)."
        ),
    },
    samples={
        "search_knowledge": Sample(lambda: {"query": "refund policy"}),
        "create_knowledge_collection": Sample(lambda: {"name": "Help center"}),
        "update_knowledge_collection": Sample(lambda: {"chunk_size": 800}),
        "create_knowledge_article": Sample(
            lambda: {"title": "Refunds", "body": "Refunds are issued within 14 days."},
            needs={"collection_id": "collection"},
        ),
        "update_knowledge_article": Sample(lambda: {"body": "Refunds within 30 days."}),
        "create_knowledge_chunk": Sample(
            lambda: {"content": "Refunds go to the original card."},
            needs={"article_id": "article"},
        ),
        "update_knowledge_chunk": Sample(lambda: {"content": "Changed."}),
    },
    records={
        "collection": "create_knowledge_collection",
        "article": "create_knowledge_article",
        "chunk": "create_knowledge_chunk",
    },
)
