"""``build_app(runtime)``: the ASGI app serving ``/api/v1`` and ``/mcp``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.config import Settings
from core.errors import DomainError, InternalError, ValidationFailed
from core.gateway import admit_request
from core.runtime import Runtime
from mcp_server.http import MCP_METHODS, build_http
from rest.adapter import API_PREFIX, bearer_token, build_routes, error_response
from rest.docs import docs_routes
from rest.openapi import build_openapi

log = logging.getLogger("patchbay.rest")


class RouteNotFound(DomainError):
    code = "route_not_found"
    status = 404
    default_message = "No such endpoint. See /api/v1/openapi.json for what exists."


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    status = 405
    default_message = "This endpoint does not accept that HTTP method."


def allowed_methods(app: FastAPI, scope: Scope) -> str:
    """The ``Allow`` header of a 405 (RFC 9110): every method some route serves at the
    request's path (one route per operation, so several routes may share a path)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**scope, "method": next(iter(route.methods))})
            if match is Match.FULL:
                methods |= route.methods
    return ", ".join(sorted(methods))


class ForceHttps:
    """``PATCHBAY_FORCE_HTTPS``: a plain-http request is answered 308 with the same URL on
    https (method and body are kept by a 308). Behind a TLS-terminating proxy the scheme
    is the proxy's ``X-Forwarded-Proto``, believed only from ``trusted_proxies``.
    ``/healthz`` stays reachable over http for load-balancer probes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.public = urlsplit(settings.public_base_url or "")
        self.trusted = {p.strip() for p in settings.trusted_proxies.split(",") if p.strip()}

    def scheme(self, scope: Scope) -> str:
        client = scope.get("client")
        if "*" in self.trusted or (client and client[0] in self.trusted):
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-proto":
                    return value.decode("latin-1").split(",")[0].strip().lower()
        return str(scope.get("scheme", "http"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/healthz":
            await self.app(scope, receive, send)
            return
        if self.scheme(scope) == "https":
            await self.app(scope, receive, send)
            return
        host = self.public.netloc if self.public.scheme == "https" else None
        if not host:
            host = next(
                (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), ""
            )
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"https://{host}{scope.get('raw_path', b'').decode('latin-1') or scope['path']}"
        await Response(
            status_code=308, headers={"Location": target + (f"?{query}" if query else "")}
        )(scope, receive, send)


def build_app(runtime: Runtime, *, with_worker: bool = False) -> FastAPI:
    """Build the REST app (``/api/v1`` and ``/mcp``) around ``runtime``; the app closes the
    runtime when it shuts down.

    ``with_worker`` also runs a job worker inside the server process (``patchbay up``).
    """
    base = runtime.settings.public_base_url
    openapi_document = build_openapi(
        runtime.registry, server_url=base + API_PREFIX if base else None
    )
    mcp = build_http(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.limiter.check()  # fail closed: no serving without the configured Redis
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(mcp.run())
            if with_worker:
                from core.jobs.worker import background_worker

                await stack.enter_async_context(background_worker(runtime))
            try:
                yield
            finally:
                await runtime.close()

    app = FastAPI(
        title="Patchbay",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.router.routes.extend(build_routes(runtime))
    app.router.routes.extend(docs_routes())  # /docs: the API reference, no CDN
    app.add_route(mcp.path, mcp.endpoint, methods=MCP_METHODS, include_in_schema=False)
    for path in mcp.metadata_paths:
        app.add_route(path, mcp.metadata_endpoint, methods=["GET"], include_in_schema=False)

    @app.get(API_PREFIX + "/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(openapi_document)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code not in (404, 405):
            return error_response(DomainError(str(exc.detail), code="http_error"))
        error: DomainError = RouteNotFound() if exc.status_code == 404 else MethodNotAllowed()
        if exc.status_code == 405:
            error.headers["Allow"] = allowed_methods(app, request.scope)
        try:  # an authenticated caller is counted and told where its token stands
            rate = await admit_request(runtime, bearer_token(request))
        except DomainError as refused:  # over the limit (429) or no limiter (503)
            return error_response(refused)
        if rate is not None:
            error.headers.update(rate.headers())
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, _exc: RequestValidationError) -> Response:
        return error_response(ValidationFailed())

    if runtime.settings.force_https:
        app.add_middleware(ForceHttps, settings=runtime.settings)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(InternalError())

    return app
