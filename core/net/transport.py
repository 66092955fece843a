"""An httpx transport that connects only to addresses the SSRF policy approved."""

from __future__ import annotations

import select
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore
import httpx

from core.net.policy import ResolvedTarget, check_url
from core.net.resolver import Resolver

DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: ``response.extensions`` key set to ``True`` once the body was cut at the cap.
TRUNCATED_EXTENSION = "patchbay.body_truncated"
#: ``response.extensions`` key holding a ``Content-Encoding`` that was *not* decoded.
CONTENT_ENCODING_EXTENSION = "patchbay.content_encoding"

TransportFactory = Callable[[], httpx.AsyncBaseTransport]

CONNECTIONS_PER_HOST = 8
"""Connections (all kept alive) per pool, i.e. per TLS hostname. httpcore scans every
pooled connection, pairwise for idle ones, on each request: with httpx's 20 kept alive
that scan was a quarter of a webhook worker's CPU (bench/webhooks.py); more requests for
one host than this wait for a free connection."""


def is_truncated(response: httpx.Response) -> bool:
    """Whether the body of a response from a safe client was cut at the size cap."""
    return bool(response.extensions.get(TRUNCATED_EXTENSION, False))


class _SocketCachingStream(httpcore.AsyncNetworkStream):
    """anyio's network stream, answering ``is_readable`` from a socket looked up once.

    httpcore's pool asks every idle connection ``is_readable`` (has the server hung up?)
    twice per request; anyio rebuilds its attribute table for each such lookup, which
    cost a fifth of a webhook worker's CPU with 20 keep-alive connections.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _SocketCachingStream(
            await self._inner.start_tls(ssl_context, server_hostname, timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data or EOF); a closed socket counts."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _SocketCachingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend with ``_SocketCachingStream`` connections."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _SocketCachingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def default_transport_factory() -> TransportFactory:
    """Factory for plain HTTP/1.1 keep-alive transports sharing one TLS context."""
    ssl_context = httpx.create_ssl_context(trust_env=False)
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_HOST,
        max_keepalive_connections=CONNECTIONS_PER_HOST,
        keepalive_expiry=5.0,
    )

    def factory() -> httpx.AsyncBaseTransport:
        transport = httpx.AsyncHTTPTransport(
            verify=ssl_context, http1=True, http2=False, limits=limits, retries=0
        )
        # The same pool httpx builds, on the socket-caching backend (httpx has no
        # parameter for it; tests/core/test_ssrf.py checks the pool is this one).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_SocketCachingBackend(),
        )
        return transport

    return factory


class _CappedStream(httpx.AsyncByteStream):
    """Yields at most ``limit`` body bytes, then closes the underlying stream."""

    def __init__(
        self, inner: httpx.AsyncByteStream, limit: int, on_close: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._on_close = on_close
        self._closed = False
        self.extensions: dict[str, Any] = {}

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self._limit
        async for chunk in self._inner:
            if len(chunk) > remaining:
                if remaining:
                    yield chunk[:remaining]
                self.extensions[TRUNCATED_EXTENSION] = True
                await self.aclose()  # unread data: the connection is discarded
                return
            remaining -= len(chunk)
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._inner.aclose()
        finally:
            self._on_close()


@dataclass(slots=True)
class _Pool:
    transport: httpx.AsyncBaseTransport
    in_flight: int = 0


def _noop() -> None:
    return None


def _pin(request: httpx.Request, target: ResolvedTarget) -> httpx.Request:
    """Copy ``request`` addressed to the checked IP, keeping Host and SNI."""
    headers = request.headers.copy()
    headers["Host"] = target.host_header
    extensions = dict(request.extensions)
    if target.scheme == "https":
        extensions["sni_hostname"] = target.sni_hostname
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(target.ip)),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )


class SafeTransport(httpx.AsyncBaseTransport):
    """Checks every request with :func:`check_url` and connects to the checked IP.

    The URL host is rewritten to the address that was validated (so no second
    DNS lookup can rebind it), while the ``Host`` header and TLS SNI /
    certificate verification keep using the original hostname.

    Keep-alive pools are separated per TLS hostname: connection pools are keyed
    by IP, and sharing one between names would let a request for one hostname
    reuse a TLS session verified for another name on the same IP. At most
    ``max_pools`` idle pools are kept (least recently used are closed).

    Response bodies are capped at ``max_body_bytes`` (see :func:`is_truncated`)
    and never decompressed, so the cap also bounds memory: a non-identity
    ``Content-Encoding`` is removed from the headers and reported in
    ``response.extensions[CONTENT_ENCODING_EXTENSION]``.

    ``transport`` replaces all pools with one given transport (tests, mocks).
    """

    def __init__(
        self,
        *,
        allow_private_network: bool,
        resolver: Resolver | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: TransportFactory | None = None,
        max_pools: int = 64,
    ) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must be >= 0")
        self._allow_private_network = allow_private_network
        self._resolver = resolver
        self._max_body_bytes = max_body_bytes
        self._shared = transport
        self._factory = transport_factory or default_transport_factory()
        self._max_pools = max(1, max_pools)
        self._pools: OrderedDict[str, _Pool] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = await self._check(request)
        transport, release = await self._acquire(target)
        try:
            response = await transport.handle_async_request(_pin(request, target))
        except BaseException:
            release()
            raise
        if not isinstance(response.stream, httpx.AsyncByteStream):  # pragma: no cover
            release()
            raise TypeError("inner transport returned a non-async response stream")

        headers = response.headers.copy()
        extensions = dict(response.extensions)
        encoding = headers.get("content-encoding", "").strip()
        if encoding and encoding.lower() != "identity":
            del headers["content-encoding"]
            extensions[CONTENT_ENCODING_EXTENSION] = encoding
        capped = _CappedStream(response.stream, self._max_body_bytes, release)
        result = httpx.Response(
            response.status_code, headers=headers, stream=capped, extensions=extensions
        )
        capped.extensions = result.extensions  # so truncation shows on the response
        return result

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()
        if self._shared is not None:
            await self._shared.aclose()

    async def _check(self, request: httpx.Request) -> ResolvedTarget:
        timeouts = request.extensions.get("timeout", {})
        try:
            with anyio.fail_after(timeouts.get("connect")):
                return await check_url(
                    request.url,
                    allow_private_network=self._allow_private_network,
                    resolver=self._resolver,
                )
        except TimeoutError as exc:
            message = f"timed out resolving {request.url.host!r}"
            raise httpx.ConnectTimeout(message, request=request) from exc
        except httpx.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    async def _acquire(
        self, target: ResolvedTarget
    ) -> tuple[httpx.AsyncBaseTransport, Callable[[], None]]:
        if self._shared is not None:
            return self._shared, _noop
        key = target.sni_hostname if target.scheme == "https" else ""
        pool = self._pools.get(key)
        stale: list[_Pool] = []
        if pool is None:
            stale = self._evict_idle()
            pool = self._pools[key] = _Pool(self._factory())
        else:
            self._pools.move_to_end(key)
        pool.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                pool.in_flight -= 1

        for old in stale:
            await old.transport.aclose()
        return pool.transport, release

    def _evict_idle(self) -> list[_Pool]:
        """Detach least-recently-used idle pools to make room for one more."""
        excess = len(self._pools) + 1 - self._max_pools
        stale: list[_Pool] = []
        for key, pool in list(self._pools.items()):
            if excess <= 0:
                break
            if pool.in_flight == 0:
                stale.append(self._pools.pop(key))
                excess -= 1
        return stale

    @property
    def pool_count(self) -> int:
        """Number of per-hostname connection pools currently held."""
        return len(self._pools)
