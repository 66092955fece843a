"""Running the HTTP server (``serve`` / ``up``) and the welcome text of ``up``."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import anyio
from rich.console import Console
from rich.panel import Panel

from core.config import Settings
from patchbay.demo import DemoSetup


def warn_if_private_network(settings: Settings) -> None:
    """Log once at start-up that outbound HTTP may reach loopback/private addresses."""
    if settings.allow_private_network:
        logging.getLogger("patchbay").warning(
            "PATCHBAY_ALLOW_PRIVATE_NETWORK=true: webhooks and crawls may reach plain http and "
            "loopback/private addresses. Use this for local development and tests only."
        )


def require_rate_limiter(settings: Settings) -> None:
    """Exit with a clear message when the configured Redis does not answer: the server
    fails closed rather than serve without the limits it was configured with."""
    if not settings.redis_url:
        return
    from core.errors import RateLimiterUnavailable
    from core.ratelimit import RateLimiter

    async def check() -> None:
        await RateLimiter(settings.redis_url).check()

    try:
        anyio.run(check)
    except RateLimiterUnavailable as exc:
        print(f"patchbay: {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def serve_http(settings: Settings, *, host: str, port: int, with_worker: bool) -> None:
    """Serve the ASGI app with uvicorn until interrupted."""
    import uvicorn

    warn_if_private_network(settings)

    from core.runtime import Runtime
    from patchbay.domains import platform
    from rest.app import build_app

    try:
        app = build_app(Runtime.create(settings, platform()), with_worker=with_worker)
    except ValueError as exc:  # e.g. PATCHBAY_MCP_TOOLSETS names a toolset that does not exist
        print(f"patchbay: invalid configuration: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), lifespan="on")


def claude_desktop_snippet(settings: Settings, token: str) -> dict[str, object]:
    """The ``mcpServers`` entry for this machine's install (absolute paths)."""
    exe = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))
    return {
        "mcpServers": {
            "patchbay": {
                "command": exe,
                "args": ["mcp"],
                "env": {"PATCHBAY_TOKEN": token, "PATCHBAY_DATABASE_URL": settings.database_url},
            }
        }
    }


def print_welcome(
    settings: Settings, demo: DemoSetup, *, host: str, port: int, as_json: bool
) -> None:
    """Tell the newcomer how to connect (the token only on the first run)."""
    base = f"http://{host}:{port}"
    token = demo.token or "<your token>"
    info = {
        "workspace_id": demo.workspace_id,
        "token": demo.token,
        "base_url": f"{base}/api/v1",
        "mcp_url": f"{base}/mcp",
        "database_url": settings.database_url,
        "owner": {"email": demo.owner_email, "password": demo.owner_password},
        "curl": f'curl -H "Authorization: Bearer {token}" {base}/api/v1/me',
        "n8n": {
            "node": "MCP Client Tool",
            "server_transport": "HTTP Streamable",
            "endpoint": f"{base}/mcp",
            "authentication": "Bearer Auth",
            "token": token,
        },
        "claude_desktop": claude_desktop_snippet(settings, token),
    }
    if as_json:
        print(json.dumps(info, indent=2), flush=True)
        return
    console = Console(stderr=False)
    if demo.token:
        console.print(
            Panel.fit(
                "[bold]Demo token — shown once, store it now.[/bold]",
                title="Patchbay is ready",
                border_style="green",
            )
        )
        print(demo.token, flush=True)
    else:
        console.print(
            "[yellow]The demo workspace already exists; its token was shown on the first "
            "run.[/yellow] Create another with:"
        )
        print(
            f"patchbay token create --workspace {demo.workspace_id} --name me --scopes '*'",
            flush=True,
        )
    if demo.owner_password:
        print(
            f"\nDemo owner (sign-in for the dashboard; password shown once):\n"
            f"  email:    {demo.owner_email}\n  password: {demo.owner_password}",
            flush=True,
        )
    else:
        print(
            f"\nDemo owner: {demo.owner_email} (forgot the password? "
            f"patchbay member reset-password {demo.owner_email})",
            flush=True,
        )
    # Plain prints for everything meant to be copied: rich would wrap long lines.
    print(f"\nREST base URL:          {info['base_url']}", flush=True)
    print(f"MCP (Streamable HTTP): {info['mcp_url']}", flush=True)
    print(f"\nTry it:\n{info['curl']}", flush=True)
    print(
        f"\nn8n: add an MCP Client Tool node — Endpoint {info['mcp_url']}, "
        "Server Transport 'HTTP Streamable', Authentication 'Bearer Auth' with the token.",
        flush=True,
    )
    print("\nClaude Desktop (merge into claude_desktop_config.json):", flush=True)
    print(json.dumps(info["claude_desktop"], indent=2), flush=True)
