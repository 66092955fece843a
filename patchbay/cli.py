"""The ``patchbay`` command line (typer + rich). Every result-printing command takes ``--json``."""

from __future__ import annotations

import json
import logging
import sys
import time
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

_global = {"json": False}


@app.callback()
def _root(as_json: JsonOpt = False) -> None:
    """Patchbay: programmable CRM and automation for AI agents. ``--json`` may come before
    the command (``patchbay --json workspace list``) or after it."""
    _global["json"] = as_json


def _json_flag() -> bool:
    """Whether ``--json`` was given before the command."""
    return _global["json"]


def want_json(as_json: bool) -> bool:
    """``--json`` given before or after the command."""
    return as_json or _global["json"]


def settings() -> Settings:
    """Settings from the environment; exits with a clear message when they are invalid."""
    try:
        return Settings()
    except Exception as exc:  # pydantic.ValidationError and friends
        err_console.print(f"[red]Invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from None


_STANDARD_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and every ``extra`` field
    (``run_id``, ``workflow_id``, ``delivery_id`` …), for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_KEYS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonLogFormatter.converter = time.gmtime  # type: ignore[assignment]


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr (stdout stays clean for ``--json`` and MCP stdio); ``fmt="json"``
    writes one JSON object a line. Alembic's per-start INFO chatter is silenced (unless
    the level is DEBUG)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    if level.upper() != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


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
        if exc.code == "workspace_not_found":  # a wrong --workspace/ID is a usage error
            err_console.print(
                f"[red]workspace_not_found:[/red] {exc.message.split(' in this ')[0]}. "
                f"`{cli_name()} workspace list` shows the workspaces.",
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
        err_console.print(f"[red]{exc.code}:[/red] {exc.message}", soft_wrap=True)
        raise typer.Exit(1) from None


def cli_name() -> str:
    """How to call this CLI again, as printed in hints (absolute path: works without an
    activated virtualenv)."""
    from patchbay.serving import cli_path

    return cli_path()


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
    """Print ``data`` as JSON or for people: a list as a table, one record as a field/value
    list. Ids and error codes are never cut: their columns are as wide as their longest
    value and never wrap; other columns wrap. When the terminal is too narrow even for
    that, each row is printed as a field/value list instead."""
    if want_json(as_json):
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if isinstance(data, list):
        if not data:
            console.print("[dim](none)[/dim]")
            return
        cols = list(columns or data[0].keys())
        table = _table(data, cols, title)
        if table is not None:
            console.print(table)
            return
        if title:
            console.print(f"[bold]{title}[/bold]")
        for index, row in enumerate(data):
            if index:
                console.print()
            _record(row, cols)
        return
    if title:
        console.print(f"[bold]{title}[/bold]")
    _record(data, list(columns or data.keys()))


def _unbreakable(column: str) -> bool:
    """Columns that must never be cut or wrapped: ids, codes and the token preview."""
    return column == "id" or column.endswith(("_id", "code", "preview"))


def _table(rows: list[dict[str, Any]], cols: list[str], title: str) -> Table | None:
    """The rows as a table, or None when the unbreakable columns do not fit the terminal."""
    widths = {
        col: max(len(col), *(len(_cell(row.get(col))) for row in rows))
        for col in cols
        if _unbreakable(col)
    }
    # 3 characters of border/padding per column, at least 4 for every wrapping column.
    needed = sum(widths.values()) + 3 * len(cols) + 1 + 4 * (len(cols) - len(widths))
    if needed > console.width:
        return None
    table = Table(title=title or None)
    for col in cols:
        if col in widths:
            table.add_column(col, no_wrap=True, min_width=widths[col], overflow="fold")
        else:
            table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(row.get(col)) for col in cols])
    return table


def _record(row: dict[str, Any], cols: list[str]) -> None:
    """Print one record as aligned ``field  value`` lines: values wrap, but an id or a code
    that does not fit beside its label goes whole on the next line."""
    import textwrap

    label_width = max(map(len, cols))
    room = max(console.width - label_width - 2, 10)
    for col in cols:
        value = _cell(row.get(col))
        label = col.ljust(label_width)
        if _unbreakable(col) or len(value) <= room:
            lines = [f"{label}  {value}".rstrip()] if len(value) <= room else [col, value]
        else:
            wrapped = textwrap.wrap(value, room, break_on_hyphens=False) or [""]
            lines = [f"{label}  {wrapped[0]}"] + [" " * (label_width + 2) + w for w in wrapped[1:]]
        for line in lines:
            console.print(line, soft_wrap=True, markup=False, highlight=False)


def _cell(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(map(str, value))
    if isinstance(value, list):
        return json.dumps(value, default=str)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
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
        "rest_api_enabled": w.rest_api_enabled,
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


@workspace_app.command("rest-api")
def workspace_rest_api(
    workspace_id: str,
    enable: Annotated[
        bool, typer.Option("--enable/--disable", help="Turn the REST API on or off.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """The REST kill switch: --disable makes every REST call of the workspace answer 404
    rest_api_disabled (MCP is unaffected); --enable turns it back on."""
    from core.workspaces import service

    async def go(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session() as session:
            row = await service.set_rest_api_enabled(session, workspace_id, enable)
            return _workspace_row(row)

    emit(run_with_runtime(go), as_json, title="REST API " + ("enabled" if enable else "disabled"))


def _lifecycle(workspace_id: str, operation: str, title: str, as_json: bool) -> None:
    async def go(rt: Runtime) -> dict[str, Any]:
        return (await gate(rt, workspace_id, operation))["data"]

    emit(run_with_runtime(go), as_json, title=title)


@workspace_app.command("show")
def workspace_show(workspace_id: str, as_json: JsonOpt = False) -> None:
    """The workspace's status (and, once closed, when its records are purged) with its
    plan, billing cycle and usage meters."""

    async def go(rt: Runtime) -> dict[str, Any]:
        shown = (await gate(rt, workspace_id, "get_workspace"))["data"]
        billing = (await gate(rt, workspace_id, "get_billing_subscription"))["data"]
        shown["cycle"] = f"{billing['cycle_start']} .. {billing['cycle_end']}"
        for meter in billing["meters"]:
            limit = f" / {meter['limit']}" if meter.get("limit") is not None else ""
            shown[f"{meter['meter']} ({meter['period']})"] = f"{meter['used']}{limit}"
        return shown

    emit(run_with_runtime(go), as_json, title="Workspace")


@workspace_app.command("archive")
def workspace_archive(workspace_id: str, as_json: JsonOpt = False) -> None:
    """active -> archived: every operation answers 403 workspace_inactive but the
    workspace/billing reads, the export, close and restore."""
    _lifecycle(workspace_id, "archive_workspace", "Workspace archived", as_json)


@workspace_app.command("close")
def workspace_close(workspace_id: str, as_json: JsonOpt = False) -> None:
    """archived -> closed: only the export answers; the records are purged after the
    retention period (PATCHBAY_WORKSPACE_RETENTION_DAYS, 30)."""
    _lifecycle(workspace_id, "close_workspace", "Workspace closed", as_json)


@workspace_app.command("restore")
def workspace_restore(workspace_id: str, as_json: JsonOpt = False) -> None:
    """archived -> active."""
    _lifecycle(workspace_id, "restore_workspace", "Workspace restored", as_json)


@workspace_app.command("export")
def workspace_export(workspace_id: str, as_json: JsonOpt = False) -> None:
    """Queue a data export (a worker writes the zip); `patchbay workspace export-status`
    then shows it and its signed download link."""
    _lifecycle(workspace_id, "create_workspace_export", "Export queued", as_json)


@workspace_app.command("export-status")
def workspace_export_status(workspace_id: str, export_id: str, as_json: JsonOpt = False) -> None:
    """An export's status, record counts and signed download link."""

    async def go(rt: Runtime) -> dict[str, Any]:
        return (await gate(rt, workspace_id, "get_workspace_export", export_id=export_id))["data"]

    emit(run_with_runtime(go), as_json, title="Export")


# ---------------------------------------------------------------- tokens


@token_app.command("create")
def token_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (wrk_…).")],
    name: Annotated[str, typer.Option("--name", help="A memorable name.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma separated scopes; 'area:*' (e.g. tasks:*) for every scope of an area, "
            "'*' for all (expanded now). `patchbay scopes` lists them.",
        ),
    ],
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
    if want_json(as_json):
        emit(data, True)
        return
    # Only the token on stdout, so `export TOKEN=$(patchbay token create …)` works.
    err_console.print(f"[green]Token created[/green] ({data['id']}). Shown once — store it now:")
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
    """Make a single-use password reset link (1 hour): mailed to the person when
    ``PATCHBAY_SMTP_HOST`` is set, printed otherwise."""
    from core.members import service
    from core.members.operations import base_url
    from web import mail

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
    conf = settings()
    if mail.smtp_configured(conf):
        message = mail.reset_message(
            conf, service.normalise_email(email), data["url"], str(data["expires_at"])
        )
        try:
            mail.send_blocking(conf, message)
        except OSError as exc:  # smtplib's errors are OSErrors too
            err_console.print(f"[red]smtp_failed:[/red] Could not send the mail: {exc}")
            raise typer.Exit(1) from None
        if as_json:
            emit({"email": email, "sent": True, "expires_at": data["expires_at"]}, True)
            return
        console.print(
            f"Password reset link mailed to {email} (single use, until {data['expires_at']})."
        )
        return
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


@app.command("scopes")
def scopes_list(as_json: JsonOpt = False) -> None:
    """List the scopes a token can hold, by area ('area:*' grants an area's scopes as they
    are when the token is minted)."""
    from core.scopes import SCOPE_AREAS

    rows = [
        {"area": area, "wildcard": f"{area}:*", "scopes": list(scopes)}
        for area, scopes in SCOPE_AREAS.items()
    ]
    emit(rows, as_json, ["area", "wildcard", "scopes"], "Scopes ('*' = all of them)")


# ---------------------------------------------------------------- serving


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve REST (/api/v1) and MCP (/mcp) over HTTP."""
    from patchbay.serving import require_rate_limiter, serve_http

    s = settings()
    configure_logging(s.log_level, s.log_format)
    require_rate_limiter(s)
    serve_http(s, host=host, port=port, with_worker=False)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    new_token: Annotated[
        bool,
        typer.Option(
            "--new-token",
            help="Mint a fresh demo token (revoking the earlier demo tokens) and print it.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create/upgrade the database and a demo workspace, then serve REST + MCP with a worker.

    The port is taken before anything is created, so a busy port costs nothing: the demo
    token is only minted (and shown) once the server can actually start."""
    from core.migrate import upgrade
    from patchbay.demo import ensure_demo
    from patchbay.serving import bind_port, print_welcome, require_rate_limiter, serve_http

    s = settings()
    configure_logging(s.log_level, s.log_format)
    sock = bind_port(host, port)
    require_rate_limiter(s)
    upgrade(s.database_url)
    demo = run_with_runtime(lambda rt: ensure_demo(rt, new_token=new_token))
    print_welcome(s, demo, host=host, port=port, as_json=as_json or _json_flag())
    serve_http(s, host=host, port=port, with_worker=True, sock=sock)


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
    configure_logging(s.log_level, s.log_format)
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
    configure_logging(s.log_level, s.log_format)
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
    """Create a workflow from a recipe file (JSON).

    \b
    A recipe is {"steps": [...], "continue_on_error": false} with 1-50 steps:
      {"type": "log", "message": "text"}          message 1-2000 chars (16,384 rendered)
      {"type": "delay", "seconds": 5}             1-30 s; the run waits, no worker is held
      {"type": "fire_webhook_event", "event": "campaign.kickoff", "payload": {...}}
                                                  a registered custom event type (lowercase,
                                                  dotted; not a built-in one), payload
                                                  64 KB at most once rendered
    continue_on_error: false stops at the first failed step (the run fails); true runs
    every step and the run still ends failed if any step failed.
    Templating: "{{input.key}}" or "{{input.a.b.0}}" in any string (message, event,
    payload values) is replaced by that value of the run's --input (objects as JSON,
    missing as ""); plain text replacement, nothing is evaluated. Run input: 64 KB.

    \b
    Example recipe.json:
      {"steps": [
        {"type": "log", "message": "Kicking off {{input.campaign}}"},
        {"type": "delay", "seconds": 2},
        {"type": "fire_webhook_event", "event": "campaign.kickoff",
         "payload": {"campaign": "{{input.campaign}}"}}]}
    """
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


RUN_COLUMNS = (
    "id",
    "status",
    "steps_total",
    "steps_succeeded",
    "steps_failed",
    "error_code",
    "created_at",
    "finished_at",
)


async def _owner(rt: Runtime, model: Any, record_id: str, missing: str) -> str:
    """The workspace of a workflow or run given by id alone (operator convenience)."""
    from core.db import record_workspace

    async with rt.db.session(read_only=True) as session:
        workspace_id = await record_workspace(session, model.__tablename__, record_id)
    if workspace_id is None:
        raise NotFound(missing, record_id)
    return workspace_id


@workflow_app.command("runs")
def workflow_runs(
    workflow_id: str,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", help="Workspace id (wrk_…); found from the id if omitted."),
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="queued, running, succeeded or failed.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List a workflow's runs, newest first."""
    from core.workflows.models import Workflow

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        ws = workspace or await _owner(rt, Workflow, workflow_id, "workflow")
        args: dict[str, Any] = {"workflow_id": workflow_id}
        if status:
            args["status"] = status
        return await all_pages(rt, ws, "list_runs_of_workflow", **args)

    emit(run_with_runtime(go), as_json, RUN_COLUMNS, "Workflow runs")


run_app = typer.Typer(help="Workflow runs.", no_args_is_help=True)
app.add_typer(run_app, name="run")


@run_app.command("show")
def run_show(
    run_id: str,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", help="Workspace id (wrk_…); found from the id if omitted."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a run and each of its steps (a pausing delay step reads 'waiting until …')."""
    from core.workflows.models import WorkflowRun

    async def go(rt: Runtime) -> dict[str, Any]:
        ws = workspace or await _owner(rt, WorkflowRun, run_id, "workflow_run")
        return (await gate(rt, ws, "get_workflow_run", run_id=run_id))["data"]

    run = run_with_runtime(go)
    if want_json(as_json):
        emit(run, True)
        return
    emit(run, False, [*RUN_COLUMNS[:1], "workflow_id", *RUN_COLUMNS[1:], "error_message"], "Run")
    steps = [
        {
            "index": step["index"],
            "type": step["type"],
            "status": step["status"],
            "error_code": (step.get("error") or {}).get("code"),
            "detail": step_detail(step),
        }
        for step in run.get("steps") or []
    ]
    if steps:
        emit(steps, False, title="Steps")


def step_line(step: dict[str, Any]) -> str:
    """``step 1 delay: waiting until …`` / ``step 0 log: succeeded`` (the --wait progress)."""
    head = f"step {step['index']} {step['type']}"
    if step["status"] == "waiting":
        return f"{head}: {step_detail(step)}"
    return f"{head}: {step['status']}"


def step_detail(step: dict[str, Any]) -> str:
    """One line about a step: 'waiting until …' for a pausing delay, else its output or
    error message."""
    if step["status"] == "waiting":
        return (
            f"waiting until {step.get('resume_at') or (step.get('output') or {}).get('resume_at')}"
        )
    if step.get("error"):
        return str(step["error"].get("message", ""))
    output = step.get("output")
    return json.dumps(output, default=str) if output else ""


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
    as_json = want_json(as_json)
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
                completed=sum(1 for s in steps if s["status"] != "waiting"),
                last=step_line(last) if last else "",
            )
            if run["status"] in FINISHED:
                break
            body = await gate(rt, workspace, "get_workflow_run", run_id=run["id"], wait_seconds=1)
            run = body["data"]
    return run


def main() -> None:  # pragma: no cover - console entry point
    app()
