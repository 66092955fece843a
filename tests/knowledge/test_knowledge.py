"""Knowledge: ingest into chunks, chunks as their own resource, ranked full-text search
(PostgreSQL ts_rank, SQLite FTS5 bm25), the search_knowledge tool's size limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.events.models import DomainEvent
from core.knowledge import search as knowledge_search
from core.operations import ToolFilter
from core.runtime import Runtime
from mcp_server.server import ToolPolicy
from tests.factories import Tenant, owner_session, token_for
from tests.mcp_server.helpers import error_code, memory_client, tool_names

API = "/api/v1"
REFUNDS = (
    "Refunds are issued to the original card within 14 days. To request a refund, "
    "reply to your receipt email. Refunds for annual plans are prorated."
)
SHIPPING = "We ship worldwide. Shipping takes 3 to 5 business days in Europe."
PASSWORD = "To reset your password, open Settings, then Security, and choose Reset password."


async def call(client: httpx.AsyncClient, t: Tenant, method: str, path: str, **kw: Any) -> Any:
    return await client.request(method, API + path, headers=t.headers, **kw)


async def made(client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]) -> dict:
    r = await call(client, t, "POST", path, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def search(client: httpx.AsyncClient, t: Tenant, **params: Any) -> dict[str, Any]:
    r = await call(client, t, "GET", "/knowledge/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_ingest_cuts_chunks_and_reingest_keeps_manual_ones(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    collection = await made(
        client,
        tenant,
        "/knowledge/collections",
        {"name": "Help", "chunk_size": 200, "chunk_overlap": 40},
    )
    assert (collection["chunk_size"], collection["chunk_overlap"]) == (200, 40)
    bad = await call(
        client,
        tenant,
        "POST",
        "/knowledge/collections",
        json={"name": "x", "chunk_size": 200, "chunk_overlap": 150},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "chunk_overlap_too_large"
    body = " ".join(f"Sentence number {i} about refunds." for i in range(40))
    article = await made(
        client,
        tenant,
        "/knowledge/articles",
        {"collection_id": collection["id"], "title": "Refunds", "body": body},
    )
    chunks = (
        await call(
            client,
            tenant,
            "GET",
            "/knowledge/chunks",
            params={"article_id": article["id"], "limit": 100},
        )
    ).json()["data"]
    assert article["chunk_count"] == len(chunks) > 3
    assert all(len(c["content"]) <= 200 and c["source"] == "ingest" for c in chunks)
    assert sorted(c["position"] for c in chunks) == list(range(len(chunks)))

    manual = await made(
        client,
        tenant,
        "/knowledge/chunks",
        {"article_id": article["id"], "content": "Refund FAQ: no fees."},
    )
    assert manual["source"] == "manual" and manual["position"] == len(chunks)
    updated = await call(
        client,
        tenant,
        "PATCH",
        f"/knowledge/articles/{article['id']}",
        json={"body": "Refunds take 30 days now."},
    )
    assert updated.json()["data"]["chunk_count"] == 2  # one ingested + the manual one
    after = (
        await call(client, tenant, "GET", "/knowledge/chunks", params={"article_id": article["id"]})
    ).json()["data"]
    assert {c["content"] for c in after} == {"Refunds take 30 days now.", "Refund FAQ: no fees."}

    edited = await call(
        client,
        tenant,
        "PATCH",
        f"/knowledge/chunks/{manual['id']}",
        json={"content": "Refund FAQ: still no fees."},
    )
    assert edited.status_code == 200
    gone = await call(client, tenant, "DELETE", f"/knowledge/chunks/{manual['id']}")
    assert gone.json()["data"] == {"id": manual["id"], "deleted": True}
    assert (
        await call(client, tenant, "GET", f"/knowledge/chunks/{manual['id']}")
    ).status_code == 404
    got = (await call(client, tenant, "GET", f"/knowledge/articles/{article['id']}")).json()
    assert got["data"]["chunk_count"] == 1
    deleted = await call(client, tenant, "DELETE", f"/knowledge/articles/{article['id']}")
    assert deleted.status_code == 200
    left = await call(client, tenant, "GET", "/knowledge/chunks")
    assert left.json()["data"] == []

    async with owner_session(runtime) as session:
        changes = (
            (
                await session.execute(
                    select(DomainEvent.data).where(
                        DomainEvent.workspace_id == tenant.workspace_id,
                        DomainEvent.type == "knowledge.updated",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [c["change"] for c in changes] == [
        "collection_created",
        "article_created",
        "chunk_created",
        "article_updated",
        "chunk_updated",
        "chunk_deleted",
        "article_deleted",
    ]


async def test_search_ranks_by_relevance_within_the_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    help_ = await made(client, tenant, "/knowledge/collections", {"name": "Help"})
    sales = await made(client, tenant, "/knowledge/collections", {"name": "Sales"})
    refunds = await made(
        client,
        tenant,
        "/knowledge/articles",
        {"collection_id": help_["id"], "title": "Refund policy", "body": REFUNDS},
    )
    shipping = await made(
        client,
        tenant,
        "/knowledge/articles",
        {"collection_id": help_["id"], "title": "Shipping", "body": SHIPPING},
    )
    await made(
        client,
        tenant,
        "/knowledge/articles",
        {"collection_id": sales["id"], "title": "Passwords", "body": PASSWORD},
    )
    theirs = await made(client, other_tenant, "/knowledge/collections", {"name": "Theirs"})
    await made(
        client,
        other_tenant,
        "/knowledge/articles",
        {"collection_id": theirs["id"], "title": "Refunds", "body": REFUNDS * 3},
    )

    found = await search(client, tenant, query="How do I get a refund?")
    assert [r["article_id"] for r in found["results"]] == [refunds["id"]]
    hit = found["results"][0]
    assert hit["article_title"] == "Refund policy" and hit["score"] > 0 and "chunk_id" in hit
    # stemming: "shipped" finds "ship"; every word first, then any word
    assert [
        r["article_id"] for r in (await search(client, tenant, query="shipped"))["results"]
    ] == [shipping["id"]]
    both = await search(client, tenant, query="refund shipping")
    assert {r["article_id"] for r in both["results"]} == {refunds["id"], shipping["id"]}
    scores = [r["score"] for r in both["results"]]
    assert scores == sorted(scores, reverse=True)
    only_sales = await search(client, tenant, query="password refund", collection_id=sales["id"])
    assert [r["article_title"] for r in only_sales["results"]] == ["Passwords"]
    assert (await search(client, tenant, query="zebra"))["results"] == []
    assert (await search(client, tenant, query="?!"))["results"] == []
    foreign = await call(
        client,
        tenant,
        "GET",
        "/knowledge/search",
        params={"query": "refund", "collection_id": theirs["id"]},
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "collection_not_found"
    too_many = await call(
        client, tenant, "GET", "/knowledge/search", params={"query": "refund", "max_results": 11}
    )
    assert too_many.status_code == 400


async def test_search_results_are_sized_for_a_model(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    collection = await made(
        client,
        tenant,
        "/knowledge/collections",
        {"name": "Big", "chunk_size": 1500, "chunk_overlap": 0},
    )
    for n in range(12):
        text = " ".join(f"Warranty clause {n}.{i} covers repairs." for i in range(150))
        await made(
            client,
            tenant,
            "/knowledge/articles",
            {"collection_id": collection["id"], "title": f"Warranty {n}", "body": text},
        )
    default = await search(client, tenant, query="warranty repairs", max_results=10)
    sizes = [
        len(r["content"].encode())
        + len(r["article_title"].encode())
        + len(r.get("heading", "").encode())
        for r in default["results"]
    ]
    assert default["total_bytes"] == sum(sizes) <= 4096
    assert 2 <= len(default["results"]) <= 10
    assert default["results"][-1].get("truncated") is True
    wide = await search(client, tenant, query="warranty repairs", max_results=10, max_bytes=16384)
    assert len(wide["results"]) == 10 and wide["total_bytes"] <= 16384

    names = {"search_knowledge", "create_knowledge_article", "list_knowledge_chunks"}
    async with memory_client(runtime, tenant.token, policy=ToolPolicy(ToolFilter(), None)) as mcp:
        assert names <= await tool_names(mcp)
        result = await mcp.call_tool("search_knowledge", {"query": "warranty repairs"})
        assert not result.is_error, result.content
        data = result.structured_content["data"]  # type: ignore[index]
        assert 1 <= len(data["results"]) <= 5 and data["total_bytes"] <= 4096
        assert all(r["article_id"].startswith("kart_") for r in data["results"])
        bad = await mcp.call_tool("search_knowledge", {"query": "x", "max_results": 50})
        assert error_code(bad) == "validation_error"
    reader = await token_for(runtime, tenant, ["knowledge:read"])
    async with memory_client(runtime, reader, policy=ToolPolicy(ToolFilter(), None)) as mcp:
        visible = await tool_names(mcp)
        assert "search_knowledge" in visible and "create_knowledge_article" not in visible


async def test_ranking_pool_bounds_the_work_of_a_common_word(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word in more chunks than RANK_POOL is ranked among the first RANK_POOL matches."""
    collection = await made(client, tenant, "/knowledge/collections", {"name": "Help"})
    for n in range(5):
        await made(
            client,
            tenant,
            "/knowledge/articles",
            {"collection_id": collection["id"], "title": f"T{n}", "body": f"Account {n}."},
        )
    assert len((await search(client, tenant, query="account", max_results=10))["results"]) == 5
    monkeypatch.setattr(knowledge_search, "RANK_POOL", 2)
    assert len((await search(client, tenant, query="account", max_results=10))["results"]) == 2
