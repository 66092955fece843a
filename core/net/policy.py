"""URL validation: scheme, host, port and resolved-address policy."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from ipaddress import IPv6Address

import httpx

from core.net.addresses import IPAddress, is_forbidden_address, parse_ip_literal
from core.net.errors import URLNotAllowed
from core.net.resolver import Resolver, normalise_addresses, system_resolver

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME_RE = re.compile(r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$")
#: Names (and their subdomains) that only ever mean "this host / this LAN".
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa")


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A URL that passed the policy, pinned to the address it must connect to."""

    url: httpx.URL
    scheme: str
    host: str  # normalised: lower-case, IDNA/ASCII, no trailing dot
    port: int  # effective port (defaults filled in)
    addresses: tuple[IPAddress, ...]  # every resolved address (all were checked)
    ip: IPAddress  # the address to connect to
    is_ip_literal: bool

    @property
    def host_header(self) -> str:
        """Value for the ``Host`` header: ``host`` plus an explicit non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.url.port is None else f"{host}:{self.url.port}"

    @property
    def sni_hostname(self) -> str:
        """Name used for TLS SNI and certificate verification."""
        return self.host


def _parse(url: str | httpx.URL, allow_private_network: bool) -> httpx.URL:
    if isinstance(url, httpx.URL):
        return url
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        pass
    # httpx rejects some numeric hosts (e.g. octal "0177.0.0.1") that the OS
    # would happily connect to; report the real reason when we can.
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    literal = parse_ip_literal(host)
    reason = None
    if literal is not None:
        reason = is_forbidden_address(literal, allow_private_network=allow_private_network)
    raise URLNotAllowed(reason or "invalid_url")


def _is_local_name(host: str) -> bool:
    return any(host == s or host.endswith("." + s) for s in _LOCAL_SUFFIXES)


async def check_url(
    url: str | httpx.URL,
    *,
    allow_private_network: bool,
    resolver: Resolver | None = None,
) -> ResolvedTarget:
    """Validate ``url`` and resolve its host exactly once.

    Returns the pinned :class:`ResolvedTarget`. Raises :class:`URLNotAllowed`
    for policy refusals and ``httpx.ConnectError`` if the host does not resolve.
    """
    parsed = _parse(url, allow_private_network)
    scheme = parsed.scheme.lower()
    allowed_schemes = ("http", "https") if allow_private_network else ("https",)
    if scheme not in allowed_schemes:
        raise URLNotAllowed("scheme_not_allowed")
    if parsed.userinfo:
        raise URLNotAllowed("userinfo_not_allowed")

    raw_host = parsed.raw_host.decode("ascii").lower()
    if not raw_host:
        raise URLNotAllowed("missing_host")
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise URLNotAllowed("invalid_port")

    literal = parse_ip_literal(raw_host)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
        host = str(literal)
    else:
        host = raw_host.removesuffix(".")
        if not _HOSTNAME_RE.match(host) or len(host) > 253:
            raise URLNotAllowed("invalid_host")
        if not allow_private_network:
            if _is_local_name(host):
                raise URLNotAllowed("local_hostname")
            if "." not in host:
                raise URLNotAllowed("single_label_host")
        addresses = await _resolve(resolver or system_resolver, host, port)

    for address in addresses:
        reason = is_forbidden_address(address, allow_private_network=allow_private_network)
        if reason is not None:
            raise URLNotAllowed(reason)

    ip = addresses[0]
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ResolvedTarget(
        url=parsed,
        scheme=scheme,
        host=host,
        port=port,
        addresses=addresses,
        ip=ip,
        is_ip_literal=literal is not None,
    )


async def _resolve(resolver: Resolver, host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        addresses = normalise_addresses(await resolver(host, port))
    except OSError as exc:
        raise httpx.ConnectError(f"could not resolve host {host!r}: {exc}") from exc
    if not addresses:
        raise httpx.ConnectError(f"host {host!r} resolved to no addresses")
    return addresses
