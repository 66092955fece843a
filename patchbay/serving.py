"""Running the HTTP server (``serve`` / ``up``) and the welcome text of ``up``."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.panel import Panel

from core.config import Settings
from patchbay.demo import DemoSetup


def compose_app(runtime: Any, *, with_worker: bool = False) -> Any:
    """The served app: the REST/MCP app of ``rest.build_app`` and the hand-written HTTP of
    ``web/``: export downloads, mounted ahead of the API's catch-all routes, and the
    dashboard pages after them."""
    from rest.app import build_app
    from web.app import mount
    from web.downloads import routes as download_routes

    app = build_app(runtime, with_worker=with_worker)
    app.router.routes[:0] = download_routes(runtime)
    return mount(app, runtime)


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


def bind_port(host: str, port: int, command: str = "up") -> socket.socket:
    """Listen on ``host:port`` now, before anything is created or printed, so a busy port
    stops ``up`` before it mints the demo token; the socket is then handed to uvicorn.
    Exits 2 with what to do when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        print(
            f"patchbay: cannot listen on {host}:{port}: {exc.strerror or exc}. Stop what uses "
            f"the port or choose another: patchbay {command} --port {port + 1}"
            + (
                f' (with make: make up ARGS="--port {port + 1}"). Nothing was created.'
                if command == "up"
                else "."
            ),
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from None
    sock.set_inheritable(True)
    return sock


def serve_http(
    settings: Settings,
    *,
    host: str,
    port: int,
    with_worker: bool,
    sock: socket.socket | None = None,
) -> None:
    """Serve the ASGI app with uvicorn until interrupted (on ``sock`` when given: a port
    already bound by ``bind_port``)."""
    import uvicorn

    warn_if_private_network(settings)

    from core.runtime import Runtime
    from patchbay.domains import platform

    try:
        app = compose_app(Runtime.create(settings, platform()), with_worker=with_worker)
    except ValueError as exc:  # e.g. PATCHBAY_MCP_TOOLSETS names a toolset that does not exist
        print(f"patchbay: invalid configuration: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if sock is None:
        sock = bind_port(host, port, "serve")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        proxy_headers=True,  # the client address and scheme a trusted proxy forwards
        forwarded_allow_ips=settings.trusted_proxies,
        # JSON logs: uvicorn's records go through the root handler too (one format).
        **({"log_config": None} if settings.log_format == "json" else {}),
    )
    uvicorn.Server(config).run(sockets=[sock])


def cli_path() -> str:
    """Absolute path of this install's ``patchbay`` script (``.venv/bin/patchbay`` after
    ``make install``), which works whether or not the virtualenv is activated."""
    beside = Path(sys.executable).with_name("patchbay")
    if beside.exists():
        return str(beside)
    found = shutil.which("patchbay")
    return str(Path(found).resolve()) if found else str(beside)


def claude_desktop_snippet(settings: Settings, token: str) -> dict[str, object]:
    """The ``mcpServers`` entry for this machine's install (absolute paths)."""
    return {
        "mcpServers": {
            "patchbay": {
                "command": cli_path(),
                "args": ["mcp"],
                "env": {"PATCHBAY_TOKEN": token, "PATCHBAY_DATABASE_URL": settings.database_url},
            }
        }
    }


def next_steps(demo: DemoSetup, base: str, cli: str) -> list[str]:
    """Shell lines that work as printed, in order: set TOKEN, call the API, trigger the
    demo workflow, look at its runs with the CLI."""
    cli = shlex.quote(cli)  # a path with spaces still works when pasted
    if demo.token:
        lines = [f"export TOKEN={demo.token}"]
    else:  # the first run's token is not stored; mint another (printed alone on stdout)
        lines = [
            f"export TOKEN=$({cli} token create --workspace {demo.workspace_id} "
            "--name me --scopes '*')"
        ]
    lines += [
        f'curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/me',
        f'curl -H "Authorization: Bearer $TOKEN" "{base}/api/v1/contacts?query=northwind&limit=10"',
    ]
    if demo.workflow_id:
        lines += [
            f'curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" '
            f'-d \'{{"input": {{"campaign": "Spring Promo"}}}}\' '
            f"{base}/api/v1/workflows/{demo.workflow_id}/runs",
            f"{cli} workflow runs {demo.workflow_id} --workspace {demo.workspace_id}",
        ]
    return lines


def print_welcome(
    settings: Settings, demo: DemoSetup, *, host: str, port: int, as_json: bool
) -> None:
    """Tell the newcomer how to connect (the token only on the first run or with
    ``--new-token``) and what to try next, in commands that work as printed."""
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    base = f"http://{shown_host}:{port}"
    token = demo.token or "<your token>"
    cli = cli_path()
    steps = next_steps(demo, base, cli)
    info = {
        "workspace_id": demo.workspace_id,
        "workflow_id": demo.workflow_id,
        "token": demo.token,
        "cli": cli,
        "base_url": f"{base}/api/v1",
        "mcp_url": f"{base}/mcp",
        "docs_url": f"{base}/docs",
        "dashboard_url": f"{base}/",
        "database_url": settings.database_url,
        "owner": {"email": demo.owner_email, "password": demo.owner_password},
        "curl": f'curl -H "Authorization: Bearer {token}" {base}/api/v1/me',
        "next_steps": steps,
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
        if demo.revoked_tokens:
            print(f"(the earlier demo token was revoked: {demo.revoked_tokens})", flush=True)
    else:
        console.print(
            "[yellow]The demo workspace already exists; its token was shown on the first "
            "run.[/yellow] Lost it? Run `patchbay up --new-token` (make up ARGS=--new-token) "
            "for a fresh one, or mint another with the first line below.",
            soft_wrap=True,
        )
    if demo.owner_password:
        print(
            f"\nDashboard: {info['dashboard_url']} — sign in as the demo owner "
            f"(password shown once):\n"
            f"  email:    {demo.owner_email}\n  password: {demo.owner_password}",
            flush=True,
        )
    else:
        print(
            f"\nDashboard: {info['dashboard_url']} — sign in as {demo.owner_email} (forgot the "
            f"password? {shlex.quote(cli)} member reset-password {demo.owner_email} prints "
            "a reset link, or mails it when PATCHBAY_SMTP_HOST is set)",
            flush=True,
        )
    # Plain prints for everything meant to be copied: rich would wrap long lines.
    print(f"\nWorkspace id:          {demo.workspace_id}", flush=True)
    if demo.workflow_id:
        print(f"Demo workflow id:      {demo.workflow_id} (Spring Promo kickoff)", flush=True)
    print(f"REST base URL:         {info['base_url']}", flush=True)
    print(f"API reference:         {info['docs_url']}", flush=True)
    print(f"MCP (Streamable HTTP): {info['mcp_url']}", flush=True)
    activate = Path(cli).parent / "activate"
    hint = f"  (or first: source {shlex.quote(str(activate))})" if activate.exists() else ""
    print(f"CLI:                   {shlex.quote(cli)}{hint}", flush=True)
    print("\nNext steps (paste into a shell while this server runs):", flush=True)
    for line in steps:
        print(f"  {line}", flush=True)
    print(
        f"\nn8n: add an MCP Client Tool node — Endpoint {info['mcp_url']}, "
        "Server Transport 'HTTP Streamable', Authentication 'Bearer Auth' with the token.",
        flush=True,
    )
    print("\nClaude Desktop (merge into claude_desktop_config.json):", flush=True)
    print(json.dumps(info["claude_desktop"], indent=2), flush=True)
    print(f"\nServing on {base} (Ctrl+C stops).", flush=True)
