"""``/docs``: a browsable API reference of ``/api/v1/openapi.json`` from packaged assets."""

from __future__ import annotations

import re

import httpx


async def test_docs_page_and_its_assets_are_served_locally(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "://" not in page  # nothing from another origin (no CDN)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/docs/assets/swagger-ui-bundle.js" in refs and "/docs/assets/docs.js" in refs
    for ref in refs:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
        if ref.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript"), ref
        if ref.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), ref
    starter = (await client.get("/docs/assets/docs.js")).text
    assert '"/api/v1/openapi.json"' in starter and "validatorUrl: null" in starter
    # Swagger UI 5 (the first to render OpenAPI 3.1, which /api/v1/openapi.json is).
    bundle = (await client.get("/docs/assets/swagger-ui-bundle.js")).text
    assert "SwaggerUIBundle" in bundle and "isOAS31" in bundle
    assert (await client.get("/api/v1/openapi.json")).json()["openapi"].startswith("3.1")


async def test_only_the_reference_files_are_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/docs/assets/core.py",
        "/docs/assets/..%2Fdocs.py",
        "/docs/assets/swagger-editor-bundle.js",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "route_not_found"
