"""``mount(app, runtime)``: add the dashboard's pages to the server's ASGI app (called by
the composition root, ``patchbay.serving``)."""

from __future__ import annotations

from typing import Any

from core.runtime import Runtime
from web.pages import routes


def mount(app: Any, runtime: Runtime) -> Any:
    """Append the dashboard routes (``/``, ``/signin``, ``/tokens`` …) to ``app``; the REST
    and MCP routes keep precedence over them."""
    app.router.routes.extend(routes(runtime))
    return app
