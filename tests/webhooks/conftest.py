"""A real HTTP receiver (uvicorn on a free loopback port) and an in-test job worker."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from sqlmodel import select

from core.config import Settings
from core.jobs import Worker
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.webhooks import delivery
from core.webhooks.jobs import QUEUE
from core.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.domains import suite_platform as platform
from tests.factories import Tenant, owner_session


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """ASGI app answering scripted responses per path (default 200) and recording requests."""

    base_url: str = ""
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    """Seconds to wait before answering requests to a path (a slow endpoint)."""

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str, *responses: tuple[int, dict[str, str]] | int) -> None:
        """Answer the next requests to ``path`` with these statuses (then 200)."""
        self.script[path] = [r if isinstance(r, tuple) else (r, {}) for r in responses]

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(path, headers, body, time.time()))
        await anyio.sleep(self.delays.get(path, 0))
        queue = self.script.get(path) or []
        status, extra = queue.pop(0) if queue else (200, {})
        out = [(k.encode(), v.encode()) for k, v in extra.items()]
        out.append((b"content-type", b"text/plain"))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    done = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve([sock])
        finally:
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield app
        finally:
            server.should_exit = True
            with anyio.move_on_after(5):
                await done.wait()
            tg.cancel_scope.cancel()
    sock.close()


RunWorker = Callable[..., Awaitable[Worker]]


async def close_transports() -> None:
    """Close this event loop's shared delivery transports (a worker keeps them open)."""
    for transport in delivery._transports.pop(asyncio.get_running_loop(), {}).values():
        await transport.aclose()


@pytest.fixture
async def run_worker(receiver: Receiver) -> AsyncIterator[RunWorker]:
    """``await run_worker(runtime)`` starts a webhook worker for the rest of the test."""
    workers: list[Worker] = []
    async with anyio.create_task_group() as tg:

        async def start(rt: Runtime, concurrency: int = 2) -> Worker:
            worker = Worker(rt, [QUEUE], concurrency=concurrency, grace_seconds=1)
            await tg.start(worker.run)
            workers.append(worker)
            return worker

        try:
            yield start
        finally:
            for worker in workers:
                worker.stop()
            with anyio.move_on_after(5):
                for worker in workers:
                    await worker.stopped.wait()
            tg.cancel_scope.cancel()
    await close_transports()


def runtime_with(runtime: Runtime, **changes: Any) -> Runtime:
    """A runtime over the same database with some settings changed."""
    settings = Settings(
        **{**runtime.settings.model_dump(), **changes},
        _env_file=None,  # type: ignore[call-arg]
    )
    return Runtime(
        settings=settings,
        db=runtime.db,
        limiter=RateLimiter(None),
        platform=platform(),
    )


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Poll ``check`` until it is true, failing after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.05)


async def deliveries(runtime: Runtime, endpoint_id: str | None = None) -> list[WebhookDelivery]:
    async with owner_session(runtime) as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if endpoint_id is not None:
            stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
        return list((await session.execute(stmt)).scalars())


async def endpoint_row(runtime: Runtime, endpoint_id: str) -> WebhookEndpoint:
    async with owner_session(runtime) as session:
        found = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        return (await session.execute(found)).scalar_one()


async def create_endpoint(
    client: httpx.AsyncClient,
    tenant: Tenant,
    url: str,
    event_types: list[str] | None = None,
    name: str = "hook",
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/webhooks",
        json={"name": name, "url": url, "event_types": event_types or ["*"]},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["data"]
