"""``patchbay mcp``: MCP over stdio for the token in ``PATCHBAY_TOKEN`` (Claude Desktop).

Only protocol goes to stdout: logs go to stderr, and while the server runs the SDK
points file descriptor 1 at stderr, so a stray ``print`` cannot corrupt the stream.

- **Fast first answer.** On SQLite an in-process job worker runs too (SPEC §9) unless
  ``--no-worker``; it starts once the first response is written (or after
  ``WORKER_START_AT_LATEST`` seconds), so its imports and start-up never delay the
  client's ``initialize`` and ``tools/list``.
- **Always exits.** When the client closes stdin the server stops, the worker gets
  ``WORKER_GRACE_SECONDS`` to finish the jobs in hand (an unfinished job keeps its lease
  and is resumed later) and the process exits.
- **Short errors.** A line that is not a valid JSON-RPC message (a batch, a wrong type,
  invalid JSON) or a request in an unsupported protocol version gets a one-sentence
  JSON-RPC error (``mcp_server.protocol``) instead of being dropped or answered with a
  validation dump.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError, JSONRPCRequest

from core.config import Settings
from core.errors import DomainError
from core.gateway import authorize
from core.operations import Channel
from core.platform import Platform
from core.runtime import Runtime
from mcp_server.protocol import Rejection, check_message, invalid, parse_error
from mcp_server.server import ToolPolicy, UnknownToolsets, build_server

log = logging.getLogger("patchbay.mcp")

WORKER_START_AT_LATEST = 3.0
"""Seconds after start-up by which the in-process worker runs even if no request came."""
WORKER_GRACE_SECONDS = 1.0
"""Time the worker gets to finish its jobs once stdin closes (exit stays under 2 s)."""
DRAIN_SECONDS = 0.8
"""Time requests in flight when stdin closes get to send their answers."""


def _fail(message: str) -> int:
    print(f"patchbay mcp: {message}", file=sys.stderr, flush=True)
    return 2


def _rejection_of(line: str) -> Rejection:
    """The short answer to a line the SDK could not read as a JSON-RPC message."""
    try:
        message = json.loads(line)
    except ValueError:
        return parse_error()
    except RecursionError:
        return invalid("it is nested too deeply.")
    return check_message(message) or invalid(
        "it is not a valid request, notification or response.", message
    )


def _check(line: str) -> Rejection | None:
    """What is wrong with a line the SDK did read (e.g. an ``id`` it dropped silently)."""
    try:
        return check_message(json.loads(line))
    except (ValueError, RecursionError):
        return None  # the SDK read it: leave it be


def _is_notification(line: str) -> bool:
    """A well-formed object with a method and no id: nobody waits for an answer."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(message, dict) and "method" in message and "id" not in message


def _as_message(rejection: Rejection) -> SessionMessage:
    error = ErrorData(code=rejection.code, message=rejection.message)
    if rejection.data is not None:
        error.data = rejection.data
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=rejection.id, error=error))  # type: ignore[arg-type]


class _Lines:
    """stdin as the SDK reads it (UTF-8 lines), keeping each raw line until it is
    screened: the SDK turns an unreadable line into a bare exception, and the answer
    needs the line (its id, what is wrong with it). One line gives exactly one item."""

    def __init__(self) -> None:
        text = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        self._file = anyio.wrap_file(text)
        self.raw: deque[str] = deque()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for line in self._file:
            self.raw.append(line)
            yield line


@dataclass
class _Pipe:
    """Between the SDK's stdio streams and the server: screens incoming messages, tells
    when the first answer went out, and lets requests in flight at EOF finish."""

    lines: _Lines
    first_answer: anyio.Event = field(default_factory=anyio.Event)
    in_flight: set[Any] = field(default_factory=set)
    drained: anyio.Event = field(default_factory=anyio.Event)

    async def screen(
        self,
        source: ObjectReceiveStream[SessionMessage | Exception],
        sink: ObjectSendStream[SessionMessage | Exception],
        replies: ObjectSendStream[SessionMessage],
    ) -> None:
        """Forward good messages to the server; answer the bad ones directly."""
        async with sink, replies:
            async for item in source:
                line = self.lines.raw.popleft() if self.lines.raw else ""
                rejection = _rejection_of(line) if isinstance(item, Exception) else _check(line)
                if rejection is not None and _is_notification(line):
                    continue  # nobody waits for an answer to a notification
                if rejection is None:
                    if isinstance(item, SessionMessage) and isinstance(
                        item.message, JSONRPCRequest
                    ):
                        self.in_flight.add(item.message.id)
                    await sink.send(item)
                    continue
                with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                    await replies.send(_as_message(rejection))
            # stdin closed: requests already handed over still get their answer
            with anyio.move_on_after(DRAIN_SECONDS):
                while self.in_flight:
                    self.drained = anyio.Event()  # set by forward() at the next answer
                    await self.drained.wait()

    async def forward(
        self,
        source: ObjectReceiveStream[SessionMessage],
        sink: ObjectSendStream[SessionMessage],
    ) -> None:
        """Pass the server's messages to stdout."""
        async with source, sink:
            async for item in source:
                await sink.send(item)
                self.first_answer.set()
                answered = getattr(item.message, "id", None)
                if answered in self.in_flight and not hasattr(item.message, "method"):
                    self.in_flight.discard(answered)
                    self.drained.set()


async def _run_worker(runtime: Runtime, first_answer: anyio.Event) -> None:
    """The in-process worker, started once the first answer is out; runs until cancelled."""
    with anyio.move_on_after(WORKER_START_AT_LATEST):
        await first_answer.wait()
    from core.jobs.worker import background_worker  # imported off the start-up path

    async with background_worker(runtime, grace_seconds=WORKER_GRACE_SECONDS):
        log.info("in-process job worker started")
        await anyio.sleep_forever()


async def serve_stdio(runtime: Runtime, token: str, *, policy: ToolPolicy, worker: bool) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream."""
    server = build_server(runtime, policy=policy, token=token)
    run_worker = worker and runtime.settings.is_sqlite
    pipe = _Pipe(_Lines())
    # stdio first: from here on fd 1 is the protocol's and stray output goes to stderr.
    async with (
        stdio_server(stdin=pipe.lines) as (read_stream, write_stream),  # type: ignore[arg-type]
        anyio.create_task_group() as tg,
    ):
        to_server, server_in = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        server_out, from_server = anyio.create_memory_object_stream[SessionMessage](0)
        tg.start_soon(pipe.screen, read_stream, to_server, write_stream.clone())
        tg.start_soon(pipe.forward, from_server, write_stream)
        if run_worker:
            tg.start_soon(_run_worker, runtime, pipe.first_answer)
        async with server_in:
            await server.run(server_in, server_out, server.create_initialization_options())
        tg.cancel_scope.cancel()  # stdin closed: stop the worker (after its grace period)


def run_stdio(
    settings: Settings,
    platform: Platform,
    *,
    toolsets: str | Iterable[str] | None = None,
    read_only: bool = False,
    worker: bool = True,
) -> int:
    """Validate the token and the toolsets, then serve. Returns the process exit code."""
    token = settings.token
    if not token:
        return _fail(
            "PATCHBAY_TOKEN is not set. Create a token with "
            "`patchbay token create --workspace <id> --name claude --scopes '*'` "
            "and put it in the environment (or the Claude Desktop config's env block)."
        )
    runtime = Runtime.create(settings, platform)
    try:
        policy = ToolPolicy.from_settings(
            settings, runtime.registry, toolsets=toolsets, read_only=read_only
        )
    except UnknownToolsets as exc:
        return _fail(str(exc))

    async def main() -> int:
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
