"""SSRF guard tests for ``core.net``.

Nothing here touches the network beyond loopback: public-looking hosts go
through stub resolvers, and requests to them through ``httpx.MockTransport``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from core.net import (
    CONTENT_ENCODING_EXTENSION,
    SafeTransport,
    URLNotAllowed,
    build_safe_client,
    build_safe_transport,
    check_url,
    is_forbidden_address,
    is_truncated,
    send_through,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class StubResolver:
    """Maps hostnames to canned answers and records every lookup."""

    def __init__(self, answers: dict[str, Sequence[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, f"stub resolver: unknown host {host}")
        return list(self.answers[host])


class RebindingResolver:
    """Public address on the first lookup, loopback on every later one."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [PUBLIC_V4] if self.calls == 1 else ["127.0.0.1"]


def corpus_resolver() -> StubResolver:
    return StubResolver(
        {
            "example.com": [PUBLIC_V4],
            "private.example": ["10.0.0.5"],
            "metadata.example": ["169.254.169.254"],
            "mixed.example": [PUBLIC_V4, "192.168.0.10"],
            "mixed6.example": [PUBLIC_V6, "fd00::1"],
            "mapped.example": ["::ffff:127.0.0.1"],
        }
    )


# (url, reason) — every one must be refused with the guard on.
SSRF_CORPUS: list[tuple[str, str]] = [
    # scheme / userinfo
    ("http://example.com/", "scheme_not_allowed"),
    ("http://[::ffff:169.254.169.254]/", "scheme_not_allowed"),
    ("ftp://example.com/", "scheme_not_allowed"),
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("https://user:pass@example.com/", "userinfo_not_allowed"),
    ("https://user@93.184.216.34/", "userinfo_not_allowed"),
    # loopback and local names
    ("https://127.0.0.1/", "loopback"),
    ("https://127.0.0.1:8443/admin", "loopback"),
    ("https://127.255.255.254/", "loopback"),
    ("https://localhost/", "local_hostname"),
    ("https://LOCALHOST./", "local_hostname"),
    ("https://api.localhost/", "local_hostname"),
    ("https://printer.local/", "local_hostname"),
    ("https://metadata.google.internal/computeMetadata/v1/", "local_hostname"),
    ("https://metadata/", "single_label_host"),
    ("https://[::1]/", "loopback"),
    # unspecified / broadcast / reserved
    ("https://0.0.0.0/", "unspecified"),
    ("https://0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://240.0.0.1/", "reserved"),
    # RFC 1918 / ULA / link-local / CGNAT / metadata
    ("https://10.0.0.1/", "private"),
    ("https://10.255.255.255/", "private"),
    ("https://172.16.0.1/", "private"),
    ("https://172.31.255.254/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://[fd12:3456::1]/", "private"),
    ("https://[fe80::1]/", "link_local"),
    ("https://169.254.1.1/", "link_local"),
    ("https://169.254.169.254/latest/meta-data/", "cloud_metadata"),
    ("https://100.100.100.200/", "cloud_metadata"),
    ("https://[fd00:ec2::254]/", "cloud_metadata"),
    ("https://100.64.0.1/", "cgnat"),
    ("https://100.127.255.254/", "cgnat"),
    # odd literal forms (inet_aton semantics)
    ("https://2130706433/", "loopback"),
    ("https://017700000001/", "loopback"),
    ("https://0177.0.0.1/", "loopback"),
    ("https://0x7f.1/", "loopback"),
    ("https://0x7f000001/", "loopback"),
    ("https://127.1/", "loopback"),
    ("https://10.1/", "private"),
    ("https://0xa9.0xfe.0xa9.0xfe/", "cloud_metadata"),
    ("https://2852039166/", "cloud_metadata"),
    # IPv4 embedded in IPv6
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[::ffff:7f00:1]/", "loopback"),
    ("https://[::ffff:a9fe:a9fe]/", "cloud_metadata"),
    ("https://[::127.0.0.1]/", "ipv4_compatible:loopback"),
    ("https://[2002:7f00:1::]/", "6to4:loopback"),
    ("https://[2002:a9fe:a9fe::]/", "6to4:cloud_metadata"),
    ("https://[2002:c0a8:101::1]/", "6to4:private"),
    ("https://[64:ff9b::a9fe:a9fe]/", "nat64:cloud_metadata"),
    ("https://[64:ff9b::7f00:1]/", "nat64:loopback"),
    ("https://[64:ff9b:1::a00:1]/", "nat64:private"),
    ("https://[64:ff9b:1:0:a:102:300:0]/", "nat64:private"),  # /64 layout of 10.1.2.3
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "teredo:loopback"),  # client
    ("https://[2001:0:a00:1::]/", "teredo:private"),  # server 10.0.0.1
    # multicast / documentation / benchmarking
    ("https://224.0.0.1/", "multicast"),
    ("https://239.255.255.250/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://192.0.2.1/", "documentation"),
    ("https://198.51.100.7/", "documentation"),
    ("https://203.0.113.9/", "documentation"),
    ("https://[2001:db8::1]/", "documentation"),
    ("https://198.18.0.1/", "benchmarking"),
    # hostnames whose answers are (partly) internal
    ("https://private.example/", "private"),
    ("https://metadata.example/", "cloud_metadata"),
    ("https://mixed.example/", "private"),
    ("https://mixed6.example/", "private"),
    ("https://mapped.example/", "loopback"),
]


def test_corpus_is_large_enough() -> None:
    assert len(SSRF_CORPUS) >= 45
    assert len({url for url, _ in SSRF_CORPUS}) == len(SSRF_CORPUS)


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "reason"), SSRF_CORPUS)
async def test_check_url_refuses_corpus(url: str, reason: str) -> None:
    resolver = corpus_resolver()
    with pytest.raises(URLNotAllowed) as excinfo:
        await check_url(url, allow_private_network=False, resolver=resolver)
    assert excinfo.value.reason == reason
    assert excinfo.value.code == "url_not_allowed"
    assert str(excinfo.value) == f"url_not_allowed: {reason}"
    assert len(resolver.calls) <= 1
    assert set(resolver.calls) <= {"example.com", *resolver.answers}


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "reason"), SSRF_CORPUS)
async def test_client_never_sends_corpus(url: str, reason: str) -> None:
    sent: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    transport = SafeTransport(
        allow_private_network=False, resolver=corpus_resolver(), transport=inner
    )
    async with httpx.AsyncClient(transport=transport) as client:
        # httpx itself rejects a few odd forms (e.g. octal dotted quads) first.
        with pytest.raises((URLNotAllowed, httpx.InvalidURL)):
            await client.get(url)
    assert sent == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("0x7f.1", "loopback"),
        ("100.64.0.1", "cgnat"),
        ("::ffff:10.0.0.1", "private"),
        ("fd00:ec2::254", "cloud_metadata"),
        ("64:ff9b::c0a8:1", "nat64:private"),
        ("2001::1", "teredo:unspecified"),  # Teredo server 0.0.0.0
        ("2001:0:808:808::f7f7:fbfb", "reserved"),  # public Teredo: still IETF-reserved
        ("::8.8.8.8", "reserved"),  # deprecated IPv4-compatible form
        ("100::1", "reserved"),
        ("fe80::1%eth0", "link_local"),
        (PUBLIC_V4, None),
        (PUBLIC_V6, None),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2002:808:808::1", None),  # 6to4 of a public address
        ("64:ff9b::808:808", None),  # DNS64 synthesis of a public address
        ("64:ff9b:1::808:808", None),
    ],
)
def test_is_forbidden_address(address: str, reason: str | None) -> None:
    assert is_forbidden_address(address) == reason


def test_is_forbidden_address_rejects_non_ip() -> None:
    with pytest.raises(ValueError):
        is_forbidden_address("example.com")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "answers", "expected_ip"),
    [
        ("https://example.com/hook", [PUBLIC_V4], PUBLIC_V4),
        ("https://example.com:8443/hook", [PUBLIC_V4], PUBLIC_V4),
        ("https://example.com/", [PUBLIC_V6, PUBLIC_V4], PUBLIC_V6),
        ("https://example.com/", ["::ffff:93.184.216.34"], PUBLIC_V4),
        (f"https://{PUBLIC_V4}/", [], PUBLIC_V4),
        ("https://[64:ff9b::5db8:d822]/", [], "64:ff9b::5db8:d822"),
    ],
)
async def test_public_targets_pass(url: str, answers: list[str], expected_ip: str) -> None:
    resolver = StubResolver({"example.com": answers})
    target = await check_url(url, allow_private_network=False, resolver=resolver)
    assert str(target.ip) == expected_ip
    assert resolver.calls == (["example.com"] if answers else [])


@pytest.mark.anyio
async def test_resolved_target_fields() -> None:
    resolver = StubResolver({"hooks.example.com": [PUBLIC_V4]})
    target = await check_url(
        "https://Hooks.Example.COM.:8443/x", allow_private_network=False, resolver=resolver
    )
    assert target.host == "hooks.example.com"
    assert target.port == 8443
    assert target.host_header == "hooks.example.com:8443"
    assert target.sni_hostname == "hooks.example.com"
    assert not target.is_ip_literal
    assert resolver.calls == ["hooks.example.com"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "https://[::1]/",
        "http://10.0.0.1/",
        "http://192.168.1.10/",
        "http://[fd12::1]/",
        "http://2130706433/",
        "http://localhost:8000/",
        "http://receiver:8080/",
        "http://printer.local/",
    ],
)
async def test_allow_private_network_permits_loopback_and_private(url: str) -> None:
    resolver = StubResolver(
        {"localhost": ["127.0.0.1"], "receiver": ["172.18.0.3"], "printer.local": ["192.168.1.9"]}
    )
    await check_url(url, allow_private_network=True, resolver=resolver)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/", "cloud_metadata"),
        ("http://[fd00:ec2::254]/", "cloud_metadata"),
        ("http://[::ffff:169.254.169.254]/", "cloud_metadata"),
        ("http://169.254.10.1/", "link_local"),
        ("http://100.64.0.1/", "cgnat"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://192.0.2.1/", "documentation"),
        ("ftp://127.0.0.1/", "scheme_not_allowed"),
        ("http://user@127.0.0.1/", "userinfo_not_allowed"),
    ],
)
async def test_allow_private_network_relaxes_nothing_else(url: str, reason: str) -> None:
    with pytest.raises(URLNotAllowed) as excinfo:
        await check_url(url, allow_private_network=True, resolver=StubResolver())
    assert excinfo.value.reason == reason


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://exa%6dple.com/", "invalid_host"),
        ("https://[fe80::1%25eth0]/", "invalid_host"),
        ("https://example.com:99999/", "invalid_port"),
        ("https:///path-only", "missing_host"),
    ],
)
async def test_malformed_urls_refused(url: str, reason: str) -> None:
    with pytest.raises(URLNotAllowed) as excinfo:
        await check_url(url, allow_private_network=False, resolver=StubResolver())
    assert excinfo.value.reason == reason


@pytest.mark.anyio
async def test_unresolvable_host_is_a_connect_error() -> None:
    with pytest.raises(httpx.ConnectError):
        await check_url(
            "https://nxdomain.example/", allow_private_network=False, resolver=StubResolver()
        )
    inner = httpx.MockTransport(lambda request: httpx.Response(200))
    transport = SafeTransport(allow_private_network=False, resolver=StubResolver(), transport=inner)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as excinfo:
            await client.get("https://nxdomain.example/")
    assert excinfo.value.request.url.host == "nxdomain.example"


@pytest.mark.anyio
async def test_slow_resolution_times_out() -> None:
    async def hanging(host: str, port: int) -> list[str]:
        await anyio.sleep(60)
        return [PUBLIC_V4]

    async with build_safe_client(
        allow_private_network=False, timeout=0.05, resolver=hanging
    ) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get("https://slow.example/")


@pytest.mark.anyio
async def test_dns_rebinding_is_pinned_to_checked_address() -> None:
    resolver = RebindingResolver()
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, text="ok")

    transport = SafeTransport(
        allow_private_network=False, resolver=resolver, transport=httpx.MockTransport(handler)
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post("https://rebind.example:8443/hook?x=1", json={"a": 1})
        assert response.status_code == 200
        assert resolver.calls == 1
        assert len(sent) == 1
        outgoing = sent[0]
        assert outgoing.url.host == PUBLIC_V4
        assert outgoing.url.port == 8443
        assert outgoing.url.raw_path == b"/hook?x=1"
        assert outgoing.headers["host"] == "rebind.example:8443"
        assert outgoing.extensions["sni_hostname"] == "rebind.example"
        assert outgoing.content == b'{"a":1}'
        assert response.request.url.host == "rebind.example"

        # The second lookup now answers 127.0.0.1: refused, nothing sent.
        with pytest.raises(URLNotAllowed) as excinfo:
            await client.post("https://rebind.example:8443/hook", json={"a": 2})
        assert excinfo.value.reason == "loopback"
        assert resolver.calls == 2
        assert len(sent) == 1


@pytest.mark.anyio
async def test_ipv6_target_and_plain_http_pinning() -> None:
    sent: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(204))
    resolver = StubResolver({"v6.example": [PUBLIC_V6], "lan.example": ["10.1.2.3"]})
    async with httpx.AsyncClient(
        transport=SafeTransport(allow_private_network=True, resolver=resolver, transport=inner)
    ) as client:
        await client.get("https://v6.example/")
        await client.get("http://lan.example:8080/")
    assert sent[0].url.host == PUBLIC_V6
    assert str(sent[0].url) == f"https://[{PUBLIC_V6}]/"
    assert sent[0].headers["host"] == "v6.example"
    assert str(sent[1].url) == "http://10.1.2.3:8080/"
    assert sent[1].headers["host"] == "lan.example:8080"
    assert "sni_hostname" not in sent[1].extensions


@pytest.mark.anyio
async def test_user_supplied_host_header_is_overridden() -> None:
    sent: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(204))
    resolver = StubResolver({"hooks.example": [PUBLIC_V4]})
    transport = SafeTransport(allow_private_network=False, resolver=resolver, transport=inner)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://hooks.example/", headers={"Host": "admin.internal"})
    assert sent[0].headers["host"] == "hooks.example"


@pytest.mark.anyio
async def test_pools_are_separated_per_tls_hostname() -> None:
    created: list[httpx.MockTransport] = []

    def factory() -> httpx.AsyncBaseTransport:
        created.append(httpx.MockTransport(lambda request: httpx.Response(200, text="x")))
        return created[-1]

    resolver = StubResolver({name: [PUBLIC_V4] for name in ("a.example", "b.example", "c.example")})
    transport = SafeTransport(
        allow_private_network=False, resolver=resolver, transport_factory=factory, max_pools=2
    )
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://a.example/")
        await client.get("https://b.example/")
        await client.get("https://a.example/again")
        assert len(created) == 2  # same IP, different names: separate pools
        assert transport.pool_count == 2
        await client.get("https://c.example/")  # evicts the least recently used (b)
        assert len(created) == 3
        assert transport.pool_count == 2
        await client.get("https://a.example/")
        assert len(created) == 3


@pytest.mark.anyio
async def test_body_cap_and_no_decompression_with_mock() -> None:
    body = gzip.compress(b"\0" * 1_000_000)  # ~1 KB on the wire, 1 MB decoded
    assert len(body) > 100

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/gzip":
            headers = {"Content-Encoding": "gzip"}
            return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))
        return httpx.Response(200, content=b"y" * 100)

    resolver = StubResolver({"hooks.example": [PUBLIC_V4]})
    transport = SafeTransport(
        allow_private_network=False,
        resolver=resolver,
        max_body_bytes=100,
        transport=httpx.MockTransport(handler),
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("https://hooks.example/gzip")
        assert response.content == body[:100]
        assert is_truncated(response)
        assert "content-encoding" not in response.headers
        assert response.extensions[CONTENT_ENCODING_EXTENSION] == "gzip"

        exact = await client.get("https://hooks.example/exact")
        assert exact.content == b"y" * 100
        assert not is_truncated(exact)


def test_warning_logged_only_when_private_network_allowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="patchbay.net"):
        build_safe_client(allow_private_network=False)
        assert caplog.records == []
        build_safe_client(allow_private_network=True)
    assert [r.name for r in caplog.records] == ["patchbay.net"]
    assert "allow_private_network=True" in caplog.records[0].getMessage()


def test_core_net_imports_no_web_frameworks() -> None:
    code = (
        "import sys, core.net\n"
        "banned = {'fastapi', 'starlette', 'mcp'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


# --- real loopback servers ------------------------------------------------------------

LARGE_BODY = b"x" * (1024 * 1024)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self._send(301, b"moved", {"Location": "/target"})
        elif self.path == "/target":
            self._send(200, b"redirect was followed")
        elif self.path == "/large":
            self._send(200, LARGE_BODY)
        elif self.path == "/close-quietly":
            # Keep-alive response, then hang up without saying so (as idle-timeout
            # servers do): the client must notice before reusing the connection.
            self._send(200, b"bye")
            self.close_connection = True
            self.server.quiet_closes.add(self.request)  # type: ignore[attr-defined]
        else:
            self._send(200, f"host={self.headers['Host']}".encode())


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.quiet_closes: set[Any] = set()
        self.hung_up = threading.Event()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        if request in self.quiet_closes:
            self.hung_up.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets are expected: the client drops connections after truncating a body.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def servers() -> list[_QuietServer]:
    return []


@pytest.fixture
def serve(servers: list[_QuietServer]) -> Iterator[Callable[[ssl.SSLContext | None], int]]:
    def start(tls: ssl.SSLContext | None = None) -> int:
        server = _QuietServer(("127.0.0.1", 0), _Handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
async def test_real_server_redirect_returned_as_is(serve: Callable[..., int]) -> None:
    port = serve()
    async with build_safe_client(allow_private_network=True) as client:
        response = await client.get(f"http://127.0.0.1:{port}/redirect")
        assert response.status_code == 301
        assert response.headers["location"] == "/target"
        assert response.content == b"moved"
        # Even an explicit per-request opt-in does not follow it.
        again = await client.get(f"http://127.0.0.1:{port}/redirect", follow_redirects=True)
        assert again.status_code == 301
        ok = await client.get(f"http://127.0.0.1:{port}/")
        assert ok.text == f"host=127.0.0.1:{port}"
        assert not is_truncated(ok)


@pytest.mark.anyio
async def test_real_server_large_body_truncated(serve: Callable[..., int]) -> None:
    port = serve()
    async with build_safe_client(allow_private_network=True, max_body_bytes=4096) as client:
        response = await client.get(f"http://127.0.0.1:{port}/large")
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(LARGE_BODY))
        assert response.content == LARGE_BODY[:4096]
        assert is_truncated(response)
        # The half-read connection was discarded; the client still works.
        follow_up = await client.get(f"http://127.0.0.1:{port}/")
        assert follow_up.status_code == 200


@pytest.mark.anyio
async def test_send_through_keeps_the_guard_and_the_cap(serve: Callable[..., int]) -> None:
    """The client-less path webhooks use: same transport, so same rules."""
    port = serve()
    transport = build_safe_transport(allow_private_network=True, max_body_bytes=4096)
    try:
        moved = await send_through(
            transport,
            "GET",
            f"http://127.0.0.1:{port}/redirect",
            content=b"",
            headers={},
            timeout=5,
        )
        assert (moved.status_code, moved.content) == (301, b"moved")  # not followed
        large = await send_through(
            transport,
            "GET",
            f"http://127.0.0.1:{port}/large",
            content=b"",
            headers={},
            timeout=5,
        )
        assert large.content == LARGE_BODY[:4096] and is_truncated(large)
    finally:
        await transport.aclose()
    guarded = build_safe_transport(allow_private_network=False)
    with pytest.raises(URLNotAllowed):
        await send_through(
            guarded, "POST", f"http://127.0.0.1:{port}/", content=b"{}", headers={}, timeout=5
        )


@pytest.mark.anyio
async def test_keep_alive_connection_closed_by_the_server_is_not_reused(
    serve: Callable[..., int], servers: list[Any]
) -> None:
    """The pool's socket-caching streams still see a server hang-up on an idle
    connection (``is_readable``), so the next request opens a new connection."""
    port = serve()
    transport = build_safe_transport(allow_private_network=True)
    try:
        first = await send_through(
            transport,
            "GET",
            f"http://127.0.0.1:{port}/close-quietly",
            content=b"",
            headers={},
            timeout=5,
        )
        assert first.content == b"bye"
        assert await anyio.to_thread.run_sync(servers[0].hung_up.wait, 5)
        again = await send_through(
            transport, "GET", f"http://127.0.0.1:{port}/", content=b"", headers={}, timeout=5
        )
        assert again.status_code == 200
    finally:
        await transport.aclose()


def test_pooled_transports_use_the_socket_caching_backend() -> None:
    from core.net.transport import _SocketCachingBackend, default_transport_factory

    inner = default_transport_factory()()
    assert isinstance(inner, httpx.AsyncHTTPTransport)
    assert isinstance(inner._pool._network_backend, _SocketCachingBackend)


def test_readable_sees_data_and_hang_up() -> None:
    from core.net.transport import _readable

    a, b = socket.socketpair()
    try:
        assert not _readable(a)
        b.sendall(b"x")
        assert _readable(a)
        a.recv(1)
        b.close()
        assert _readable(a)  # EOF waiting
    finally:
        a.close()
    assert _readable(a)  # closed socket
    assert _readable(None)


@pytest.mark.anyio
async def test_real_server_refused_without_private_network(serve: Callable[..., int]) -> None:
    port = serve()
    async with build_safe_client(allow_private_network=False) as client:
        for url in (f"http://127.0.0.1:{port}/", f"https://127.0.0.1:{port}/"):
            with pytest.raises(URLNotAllowed):
                await client.get(url)


def _make_tls_material(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA plus a leaf for ``hostname``: (server context, client context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchbay test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = tmp_path / "leaf.pem"
    key_file = tmp_path / "leaf.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server_ctx, client_ctx


@pytest.mark.anyio
async def test_tls_uses_original_hostname_for_sni_and_verification(
    serve: Callable[..., int], tmp_path: Path
) -> None:
    pytest.importorskip("cryptography")
    server_ctx, client_ctx = _make_tls_material(tmp_path, "hooks.patchbay.test")
    seen_sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    port = serve(server_ctx)

    resolver = StubResolver(
        {"hooks.patchbay.test": ["127.0.0.1"], "other.patchbay.test": ["127.0.0.1"]}
    )
    transport = SafeTransport(
        allow_private_network=True,
        resolver=resolver,
        transport_factory=lambda: httpx.AsyncHTTPTransport(verify=client_ctx),
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"https://hooks.patchbay.test:{port}/")
        assert response.text == f"host=hooks.patchbay.test:{port}"
        assert seen_sni == ["hooks.patchbay.test"]

        # Same IP, but the certificate does not cover this name: verification fails.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://other.patchbay.test:{port}/")
    assert resolver.calls == ["hooks.patchbay.test", "other.patchbay.test"]
