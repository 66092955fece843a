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
from core.errors import DomainError, NotFound
from core.gateway import Call, dispatch, operator_principal
from core.operations import Channel
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, parse_abilities, parse_scopes
from patchbay.domains import platform

app = typer.Typer(
    help="Patchbay: programmable CRM and automation for AI agents.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants) and plans.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(token_app, name="token")
member_app = typer.Typer(help="Members: people who sign in, and their roles.", no_args_is_help=True)
app.add_typer(member_app, name="member")

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
        runtime = Runtime.create(settings(), platform())
        try:
            return await fn(runtime)
        finally:
            await runtime.close()

    try:
        return anyio.run(main)
    except DomainError as exc:
        err_console.print(f"[red]{exc.code}:[/red] {exc.message}")
        raise typer.Exit(1) from None


async def gate(rt: Runtime, workspace: str, operation: str, **arguments: Any) -> dict[str, Any]:
    """Run ``operation`` in ``workspace`` through the gate as the operator (channel
    ``cli``): the same validation, plan checks, events and audit rows as REST and MCP.
    Answers the envelope; raises the ``DomainError`` of a refusal."""
    async with rt.db.session(read_only=True) as session:
        principal = await operator_principal(session, workspace)
    op = rt.registry.get(operation)
    assert op is not None, operation

    async def load() -> dict[str, Any]:
        return arguments

    outcome = await dispatch(rt, Call(op, None, Channel.cli, load, authenticated=principal))
    if outcome.error is not None:
        raise outcome.error
    return outcome.body


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
    try:
        scope_list = parse_scopes(scopes)
        ability_list = parse_abilities(abilities)
    except ValueError as exc:
        err_console.print(f"[red]validation_error:[/red] {exc}")
        raise typer.Exit(2) from None
    arguments: dict[str, Any] = {"name": name, "scopes": scope_list, "abilities": ability_list}
    if expires_days is not None:
        arguments["expires_in_days"] = expires_days
    if rate_limit is not None:
        arguments["rate_limit_per_minute"] = rate_limit

    async def go(rt: Runtime) -> dict[str, Any]:
        return (await gate(rt, workspace, "create_token", **arguments))["data"]

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

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        return await all_pages(rt, workspace, "list_tokens")

    emit(
        run_with_runtime(go),
        as_json,
        ["id", "name", "preview", "scopes", "expires_at", "last_used_at", "revoked_at"],
        "Tokens",
    )


@token_app.command("revoke")
def token_revoke(token_id: str, as_json: JsonOpt = False) -> None:
    """Revoke a token; it answers 401 from its next request on."""
    from core.tokens import repository

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session(read_only=True) as session:
            workspace_id = await repository.workspace_of(session, token_id)
        if workspace_id is None:
            raise NotFound("token", token_id)
        return (await gate(rt, workspace_id, "revoke_token", token_id=token_id))["data"]

    emit(run_with_runtime(go), as_json, ["id", "name", "revoked_at"], "Token revoked")


# ---------------------------------------------------------------- members


@member_app.command("invite")
def member_invite(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    email: Annotated[str, typer.Option("--email", help="The person's email address.")],
    role: Annotated[str, typer.Option("--role", help="owner, admin, member or viewer.")] = "member",
    as_json: JsonOpt = False,
) -> None:
    """Invite a person; prints the single-use invitation link (7 days) once."""

    async def go(rt: Runtime) -> dict[str, Any]:
        return (await gate(rt, workspace, "invite_member", email=email, role=role))["data"]

    data = run_with_runtime(go)
    if as_json:
        emit(data, True)
        return
    console.print(
        f"[green]Invited[/green] {data['email']} as {data['role']} (link valid until "
        f"{data['invitation_expires_at']}). Send them this link, shown once:\n"
    )
    typer.echo(data["invitation_url"])


@member_app.command("list")
def member_list(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    as_json: JsonOpt = False,
) -> None:
    """List a workspace's members and pending invitations."""

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        return await all_pages(rt, workspace, "list_members")

    emit(run_with_runtime(go), as_json, ["id", "email", "role", "status", "created_at"], "Members")


@member_app.command("reset-password")
def member_reset_password(email: str, as_json: JsonOpt = False) -> None:
    """Make a single-use password reset link (1 hour) and print it (no mail is sent:
    Patchbay has no SMTP sender yet)."""
    from core.members import service
    from core.members.operations import base_url

    async def go(rt: Runtime) -> dict[str, Any] | None:
        async with rt.db.session() as session:
            link = await service.request_password_reset(
                session, email, base_url=base_url(rt.settings)
            )
        return {"email": email, "url": link.url, "expires_at": link.expires_at} if link else None

    data = run_with_runtime(go)
    if data is None:
        err_console.print(f"[red]member_not_found:[/red] No member has the email {email}.")
        raise typer.Exit(1)
    if as_json:
        emit(data, True)
        return
    console.print(f"Password reset link for {email} (single use, until {data['expires_at']}):\n")
    typer.echo(data["url"])


async def all_pages(rt: Runtime, workspace: str, operation: str, **args: Any) -> list[Any]:
    """Every item of a list operation, page after page (through the gate)."""
    items: list[Any] = []
    cursor = None
    while True:
        page_args = {**args, "limit": 100, **({"cursor": cursor} if cursor else {})}
        body = await gate(rt, workspace, operation, **page_args)
        items += body["data"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


# ---------------------------------------------------------------- serving


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve REST (/api/v1) and MCP (/mcp) over HTTP."""
    from patchbay.serving import require_rate_limiter, serve_http

    s = settings()
    configure_logging(s.log_level)
    require_rate_limiter(s)
    serve_http(s, host=host, port=port, with_worker=False)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    as_json: JsonOpt = False,
) -> None:
    """Create/upgrade the database and a demo workspace, then serve REST + MCP with a worker."""
    from core.migrate import upgrade
    from patchbay.demo import ensure_demo
    from patchbay.serving import print_welcome, require_rate_limiter, serve_http

    s = settings()
    configure_logging(s.log_level)
    require_rate_limiter(s)
    upgrade(s.database_url)
    demo = run_with_runtime(ensure_demo)
    print_welcome(s, demo, host=host, port=port, as_json=as_json)
    serve_http(s, host=host, port=port, with_worker=True)


@app.command("mcp")
def mcp_stdio(
    toolsets: Annotated[
        str | None,
        typer.Option(help="Comma separated toolsets to serve (e.g. crm,tasks), or 'all'."),
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Serve read tools only.")] = False,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the in-process job worker (SQLite).")
    ] = False,
) -> None:
    """Serve MCP over stdio for the token in PATCHBAY_TOKEN (Claude Desktop)."""
    from mcp_server.stdio import run_stdio
    from patchbay.serving import require_rate_limiter

    s = settings()
    configure_logging(s.log_level)
    require_rate_limiter(s)
    code = run_stdio(s, platform(), toolsets=toolsets, read_only=read_only, worker=not no_worker)
    if code:
        raise typer.Exit(code)


# ---------------------------------------------------------------- workers and workflows


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Jobs run at the same time.")
    ] = 4,
) -> None:
    """Run background jobs (workflow runs, webhook deliveries) until SIGTERM/SIGINT."""
    from core.jobs.worker import run_worker_until_stopped
    from patchbay.serving import warn_if_private_network

    s = settings()
    configure_logging(s.log_level)
    warn_if_private_network(s)

    async def go(rt: Runtime) -> None:
        await run_worker_until_stopped(rt, concurrency=concurrency)

    run_with_runtime(go)


workflow_app = typer.Typer(help="Workflows: create, list and run.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("create")
def workflow_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    name: Annotated[str, typer.Option("--name", help="Workflow name.")],
    recipe: Annotated[
        typer.FileText, typer.Option("--recipe", help="Recipe JSON file ('-' for stdin).")
    ],
    description: Annotated[str | None, typer.Option("--description")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it inactive.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a workflow from a recipe file."""
    try:
        recipe_data = json.load(recipe)
    except ValueError as exc:
        err_console.print(f"[red]recipe_invalid:[/red] the recipe file is not JSON: {exc}")
        raise typer.Exit(1) from None
    arguments: dict[str, Any] = {
        "name": name,
        "recipe": recipe_data,
        "status": "inactive" if inactive else "active",
    }
    if description is not None:
        arguments["description"] = description

    async def go(rt: Runtime) -> dict[str, Any]:
        return (await gate(rt, workspace, "create_workflow", **arguments))["data"]

    emit(run_with_runtime(go), as_json, ["id", "name", "status"], "Workflow created")


@workflow_app.command("list")
def workflow_list(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    as_json: JsonOpt = False,
) -> None:
    """List a workspace's workflows."""

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        return await all_pages(rt, workspace, "list_workflows")

    emit(run_with_runtime(go), as_json, ["id", "name", "status", "step_count"], "Workflows")


FINISHED = ("succeeded", "failed")


@workflow_app.command("run")
def workflow_run(
    workflow_id: str,
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    input_json: Annotated[
        str, typer.Option("--input", help="Run input as a JSON object, e.g. '{\"a\": 1}'.")
    ] = "{}",
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until it ends.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait waits.")] = 600,
    as_json: JsonOpt = False,
) -> None:
    """Queue a run (counts against the daily cap); --wait follows its steps."""
    try:
        run_input = json.loads(input_json)
    except ValueError as exc:
        err_console.print(f"[red]validation_error:[/red] --input is not JSON: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(run_input, dict):
        err_console.print("[red]validation_error:[/red] --input must be a JSON object")
        raise typer.Exit(2)

    async def go(rt: Runtime) -> dict[str, Any]:
        body = await gate(
            rt, workspace, "trigger_workflow", workflow_id=workflow_id, input=run_input
        )
        run = body["data"]
        if wait:
            run = await _follow_run(rt, workspace, run, timeout, quiet=as_json)
        return run

    data = run_with_runtime(go)
    if as_json:
        emit(data, True)
    else:
        emit(
            data,
            False,
            ["id", "workflow_id", "status", "steps_succeeded", "steps_failed", "error_code"],
            "Workflow run",
        )
    if wait and data["status"] not in FINISHED:
        err_console.print("[yellow]Still not finished; is a worker running (patchbay worker)?")
        raise typer.Exit(3)
    if wait and data["status"] == "failed":
        raise typer.Exit(1)


async def _follow_run(
    rt: Runtime, workspace: str, run: dict[str, Any], timeout: float, quiet: bool
) -> dict[str, Any]:
    """Follow the run (long-polling get_workflow_run) until it ends, showing step
    progress (unless ``quiet``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        console=err_console,
        disable=quiet,
    )
    with progress, anyio.move_on_after(timeout):
        task = progress.add_task(run["status"], total=max(run["steps_total"], 1), last="")
        while True:
            steps = run.get("steps") or []
            last = steps[-1] if steps else None
            progress.update(
                task,
                description=run["status"],
                completed=len(steps),
                last=f"step {last['index']} {last['type']}: {last['status']}" if last else "",
            )
            if run["status"] in FINISHED:
                break
            body = await gate(rt, workspace, "get_workflow_run", run_id=run["id"], wait_seconds=1)
            run = body["data"]
    return run


def main() -> None:  # pragma: no cover - console entry point
    app()
