"""``patchbay mcp``: MCP over stdio for the token in ``PATCHBAY_TOKEN`` (Claude Desktop).

Only protocol goes to stdout: logs go to stderr, and while the server runs the SDK
points file descriptor 1 at stderr, so a stray ``print`` cannot corrupt the stream.
On SQLite an in-process job worker runs too (SPEC §9) unless ``--no-worker``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from mcp.server.stdio import stdio_server

from core.config import Settings
from core.errors import DomainError
from core.gateway import authorize
from core.operations import Channel
from core.runtime import Runtime
from mcp_server.server import ToolPolicy, build_server

log = logging.getLogger("patchbay.mcp")


def _fail(message: str) -> int:
    print(f"patchbay mcp: {message}", file=sys.stderr, flush=True)
    return 2


def worker_context(runtime: Runtime) -> AbstractAsyncContextManager[Any] | None:
    """The in-process job worker of ``core.serving``, if this build has one."""
    try:
        from core import serving
    except ImportError:  # pragma: no cover - partial installs
        return None
    hook = getattr(serving, "background_worker", None) or getattr(
        serving, "start_background_worker", None
    )
    return hook(runtime) if hook is not None else None


@asynccontextmanager
async def _maybe_worker(runtime: Runtime, enabled: bool) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        if enabled:
            context = worker_context(runtime)
            if context is None:
                log.warning("no job worker in this build; workflow runs wait for `patchbay worker`")
            else:
                await stack.enter_async_context(context)
                log.info("in-process job worker started")
        yield


async def serve_stdio(
    runtime: Runtime,
    token: str,
    *,
    policy: ToolPolicy,
    worker: bool,
) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream."""
    server = build_server(runtime, policy=policy, token=token)
    run_worker = worker and runtime.settings.is_sqlite
    # stdio first: from here on fd 1 is the protocol's and stray output goes to stderr.
    async with stdio_server() as (read_stream, write_stream), _maybe_worker(runtime, run_worker):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def run_stdio(
    settings: Settings,
    *,
    toolsets: str | Iterable[str] | None = None,
    read_only: bool = False,
    worker: bool = True,
) -> int:
    """Validate the token, then serve. Returns the process exit code."""
    token = settings.token
    if not token:
        return _fail(
            "PATCHBAY_TOKEN is not set. Create a token with "
            "`patchbay token create --workspace <id> --name claude --scopes '*'` "
            "and put it in the environment (or the Claude Desktop config's env block)."
        )
    policy = ToolPolicy.from_settings(settings, toolsets=toolsets, read_only=read_only)

    async def main() -> int:
        runtime = Runtime.create(settings)
        try:
            try:
                principal = await authorize(runtime, token, Channel.mcp)
            except DomainError as exc:
                return _fail(f"{exc.code}: {exc.message} (PATCHBAY_TOKEN)")
            except Exception as exc:
                return _fail(
                    f"cannot read the database ({type(exc).__name__}: {exc}). Check "
                    "PATCHBAY_DATABASE_URL and run `patchbay db upgrade`."
                )
            log.info(
                "serving MCP over stdio for workspace %s, token %s",
                principal.workspace_id,
                principal.token_id,
            )
            await serve_stdio(runtime, token, policy=policy, worker=worker)
            return 0
        finally:
            await runtime.close()

    return anyio.run(main)
