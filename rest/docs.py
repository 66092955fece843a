"""``/docs``: a browsable reference of ``/api/v1/openapi.json`` (Swagger UI 5, which
renders OpenAPI 3.1), served from packaged files: the page and its starter script in
``rest/web/``, Swagger UI's bundle from the ``swagger-ui-py`` package. Nothing is loaded
from a CDN, so it works offline and behind strict networks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

WEB = Path(__file__).parent / "web"
_MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_OWN = {"docs.js"}
_VENDORED = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}


def _swagger_ui_dir() -> Path:
    """The static folder of the ``swagger_ui`` package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def docs_routes() -> list[Route]:
    """``GET /docs`` (the page) and ``GET /docs/assets/{name}`` (a fixed list of files)."""
    page = (WEB / "docs.html").read_text(encoding="utf-8")
    vendor = _swagger_ui_dir()
    files = {name: WEB / name for name in _OWN} | {name: vendor / name for name in _VENDORED}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"API reference assets missing: {', '.join(missing)}")

    async def docs(_request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def asset(request: Request) -> Response:
        path = files.get(request.path_params["name"])
        if path is None:  # answered as route_not_found by the app's handler
            raise HTTPException(404)
        media = _MEDIA[path.suffix]
        return FileResponse(path, media_type=media, headers={"Cache-Control": "max-age=3600"})

    return [
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
        Route("/docs/assets/{name}", asset, methods=["GET"], include_in_schema=False),
    ]
