"""The ``patchbay`` command line (typer + rich). Every result-printing command takes ``--json``."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

import anyio
import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings
from core.db import WorkspaceId
from core.errors import DomainError
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES

app = typer.Typer(
    help="Patchbay: programmable CRM and automation for AI agents.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants) and plans.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(token_app, name="token")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def settings() -> Settings:
    """Settings from the environment; exits with a clear message when they are invalid."""
    try:
        return Settings()
    except Exception as exc:  # pydantic.ValidationError and friends
        err_console.print(f"[red]Invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from None


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr (stdout stays clean for ``--json`` and MCP stdio)."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_with_runtime(fn: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``fn(runtime)`` in an event loop; domain errors exit 1 with their message."""

    async def main() -> T:
        runtime = Runtime.create(settings())
        try:
            return await fn(runtime)
        finally:
            await runtime.close()

    try:
        return anyio.run(main)
    except DomainError as exc:
        err_console.print(f"[red]{exc.code}:[/red] {exc.message}")
        raise typer.Exit(1) from None


def emit(data: Any, as_json: bool, columns: Sequence[str] | None = None, title: str = "") -> None:
    """Print ``data`` as JSON or as a rich table/summary."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        console.print("[dim](none)[/dim]")
        return
    cols = list(columns or rows[0].keys())
    table = Table(title=title or None)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(row.get(col)) for col in cols])
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from core.migrate import upgrade

    s = settings()
    upgrade(s.database_url)
    emit({"status": "upgraded", "database": _safe_url(s.database_url)}, as_json)


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# ---------------------------------------------------------------- workspaces


def _workspace_row(w: Any) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "plan": w.plan,
        "status": w.status,
        "enabled_modules": list(w.enabled_modules),
        "created_at": w.created_at.isoformat(),
    }


@workspace_app.command("create")
def workspace_create(
    name: str,
    plan: Annotated[str, typer.Option(help="starter, growth, pro or custom.")] = "starter",
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace."""
    from core.workspaces import service

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session() as session:
            return _workspace_row(await service.create_workspace(session, name, plan))

    emit(run_with_runtime(go), as_json, title="Workspace created")


@workspace_app.command("list")
def workspace_list(as_json: JsonOpt = False) -> None:
    """List workspaces."""
    from core.workspaces import repository

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.db.session() as session:
            return [_workspace_row(w) for w in await repository.list_all(session)]

    emit(run_with_runtime(go), as_json, ["id", "name", "plan", "status"], "Workspaces")


@workspace_app.command("set-plan")
def workspace_set_plan(workspace_id: str, plan: str, as_json: JsonOpt = False) -> None:
    """Move a workspace to another plan."""
    from core.workspaces import service

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session() as session:
            return _workspace_row(await service.set_plan(session, workspace_id, plan))

    emit(run_with_runtime(go), as_json, title="Plan changed")


# ---------------------------------------------------------------- tokens


@token_app.command("create")
def token_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    name: Annotated[str, typer.Option("--name", help="A memorable name.")],
    scopes: Annotated[str, typer.Option("--scopes", help="Comma separated scopes, or '*'.")],
    abilities: Annotated[str, typer.Option(help="api:rest,api:mcp")] = ",".join(ALL_ABILITIES),
    expires_days: Annotated[int | None, typer.Option("--expires-days")] = None,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", help="Requests per minute (default 600).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token. The full token is printed once; store it now."""
    from core.tokens import service

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session() as session:
            created = await service.issue_token(
                session,
                WorkspaceId(workspace),
                name=name,
                scopes=scopes,
                abilities=abilities,
                expires_in_days=expires_days,
                rate_limit_per_minute=rate_limit,
            )
            return created.model_dump(mode="json")

    data = run_with_runtime(go)
    if as_json:
        emit(data, True)
        return
    console.print(f"[green]Token created[/green] ({data['id']}). Shown once — store it now:\n")
    typer.echo(data["token"])


@token_app.command("list")
def token_list(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    as_json: JsonOpt = False,
) -> None:
    """List a workspace's tokens (never their secrets)."""
    from core.tokens import repository
    from core.tokens.models import TokenPublic

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.db.session() as session:
            rows = await repository.list_for_workspace(session, WorkspaceId(workspace))
            return [TokenPublic.model_validate(t).model_dump(mode="json") for t in rows]

    emit(
        run_with_runtime(go),
        as_json,
        ["id", "name", "preview", "scopes", "expires_at", "last_used_at", "revoked_at"],
        "Tokens",
    )


@token_app.command("revoke")
def token_revoke(token_id: str, as_json: JsonOpt = False) -> None:
    """Revoke a token; it answers 401 from its next request on."""
    from core.tokens import service
    from core.tokens.models import TokenPublic

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session() as session:
            token = await service.revoke_token_any(session, token_id)
            return TokenPublic.model_validate(token).model_dump(mode="json")

    emit(run_with_runtime(go), as_json, ["id", "name", "revoked_at"], "Token revoked")


# ---------------------------------------------------------------- serving


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve REST (/api/v1) and MCP (/mcp) over HTTP."""
    from core.serving import serve_http

    s = settings()
    configure_logging(s.log_level)
    serve_http(s, host=host, port=port, with_worker=False)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    as_json: JsonOpt = False,
) -> None:
    """Create/upgrade the database and a demo workspace, then serve REST + MCP with a worker."""
    from core.demo import ensure_demo
    from core.migrate import upgrade
    from core.serving import print_welcome, serve_http

    s = settings()
    configure_logging(s.log_level)
    upgrade(s.database_url)
    demo = run_with_runtime(ensure_demo)
    print_welcome(s, demo, host=host, port=port, as_json=as_json)
    serve_http(s, host=host, port=port, with_worker=True)


def main() -> None:  # pragma: no cover - console entry point
    app()
