"""IP address classification for the outbound-network guard.

Every table is explicit (rather than relying on ``ipaddress.is_global``) so the
policy is auditable and identical across Python patch releases.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

#: Reasons that ``allow_private_network=True`` relaxes. Everything else
#: (metadata, link-local, CGNAT, multicast, ...) stays forbidden.
PRIVATE_NETWORK_REASONS = frozenset({"loopback", "private"})

# Order matters: the first match gives the reason, so specific entries go first.
_V4_RULES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", "cloud_metadata"),  # AWS, GCP, Azure, OCI, DO, ...
        ("100.100.100.200/32", "cloud_metadata"),  # Alibaba Cloud
        ("0.0.0.0/32", "unspecified"),
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/8", "reserved"),  # "this network"
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("169.254.0.0/16", "link_local"),
        ("100.64.0.0/10", "cgnat"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
    )
)

_V6_RULES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("fc00::/7", "private"),  # unique local
        ("fec0::/10", "private"),  # deprecated site-local
        ("fe80::/10", "link_local"),
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2001:2::/48", "benchmarking"),
        ("2001::/23", "reserved"),  # IETF protocol assignments (incl. Teredo)
        ("100::/64", "reserved"),  # discard-only
    )
)

_V6_METADATA = frozenset({IPv6Address("fd00:ec2::254")})  # AWS IMDS over IPv6
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V4_COMPATIBLE = IPv6Network("::/96")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")


def _bits(n: int, first: int, last: int) -> int:
    """Bits ``first..last`` (inclusive, 0 = most significant) of a 128-bit int."""
    width = last - first + 1
    return (n >> (127 - last)) & ((1 << width) - 1)


def _nat64_local_candidates(ip: IPv6Address) -> Iterator[IPv4Address]:
    """IPv4 addresses an RFC 6052 translator could decode from a 64:ff9b:1::/48 address.

    The local-use prefix may be deployed with any RFC 6052 prefix length, so
    every layout that is consistent with the address (zero "u" octet and zero
    suffix) is considered; the /96 layout always is.
    """
    n = int(ip)
    yield IPv4Address(n & 0xFFFFFFFF)
    if _bits(n, 64, 71):  # the "u" octet must be zero for shorter prefixes
        return
    if not _bits(n, 104, 127):
        yield IPv4Address(_bits(n, 72, 103))  # /64
    if not _bits(n, 96, 127):
        yield IPv4Address(_bits(n, 56, 63) << 24 | _bits(n, 72, 95))  # /56
    if not _bits(n, 88, 127):
        yield IPv4Address(_bits(n, 48, 63) << 16 | _bits(n, 72, 87))  # /48


def _teredo_candidates(ip: IPv6Address) -> Iterator[IPv4Address]:
    teredo = ip.teredo
    if teredo is not None:
        yield from teredo  # (server, client)


_EMBEDDED: tuple[tuple[IPv6Network, str, Callable[[IPv6Address], Iterator[IPv4Address]]], ...] = (
    (_V4_COMPATIBLE, "ipv4_compatible", lambda ip: iter((IPv4Address(int(ip) & 0xFFFFFFFF),))),
    (_NAT64_WELL_KNOWN, "nat64", lambda ip: iter((IPv4Address(int(ip) & 0xFFFFFFFF),))),
    (_NAT64_LOCAL, "nat64", _nat64_local_candidates),
    (_SIX_TO_FOUR, "6to4", lambda ip: iter((IPv4Address(_bits(int(ip), 16, 47)),))),
    (_TEREDO, "teredo", _teredo_candidates),
)


def parse_ip_literal(host: str) -> IPAddress | None:
    """Return the address a literal host denotes, or ``None`` for a DNS name.

    IPv4 uses ``inet_aton`` semantics like the OS resolver, so ``2130706433``,
    ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` all become ``127.0.0.1``. A single
    trailing dot is ignored. IPv6 zone ids (``%eth0``) are not accepted.
    """
    host = host.strip("[]")
    if host.endswith("."):
        host = host[:-1]
    if not host or "%" in host:
        return None
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            return None
    # inet_aton tolerates trailing garbage after whitespace; only feed it
    # strings made of characters that can appear in a numeric IPv4 form.
    if not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _v4_reason(ip: IPv4Address, allow_private_network: bool) -> str | None:
    for net, reason in _V4_RULES:
        if ip in net:
            if allow_private_network and reason in PRIVATE_NETWORK_REASONS:
                return None
            return reason
    return None


def _v6_reason(ip: IPv6Address, allow_private_network: bool) -> str | None:
    ip = IPv6Address(int(ip))  # drop any %zone so comparisons are exact
    if ip in _V6_METADATA:
        return "cloud_metadata"
    if ip == IPv6Address("::"):
        return "unspecified"
    if ip == IPv6Address("::1"):
        return None if allow_private_network else "loopback"
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address itself
        return _v4_reason(ip.ipv4_mapped, allow_private_network)
    for net, kind, extract in _EMBEDDED:
        if ip in net:
            for embedded in extract(ip):
                reason = _v4_reason(embedded, allow_private_network)
                if reason is not None:
                    return f"{kind}:{reason}"
            if net in (_NAT64_WELL_KNOWN, _NAT64_LOCAL):
                return None  # DNS64-synthesised address of a public IPv4 host
            break
    for net, reason in _V6_RULES:
        if ip in net:
            if allow_private_network and reason in PRIVATE_NETWORK_REASONS:
                return None
            return reason
    if ip not in _V6_GLOBAL_UNICAST:
        return "reserved"
    return None


def is_forbidden_address(ip: str | IPAddress, *, allow_private_network: bool = False) -> str | None:
    """Return a short reason if ``ip`` must not be contacted, else ``None``.

    ``ip`` may be an address object or a literal string (odd IPv4 forms such as
    ``0x7f.1`` are normalised). ``allow_private_network`` permits only loopback
    and private (RFC 1918 / ULA) ranges. Raises ``ValueError`` for non-IP input.
    """
    if isinstance(ip, str):
        parsed = parse_ip_literal(ip)
        if parsed is None:
            parsed = ip_address(ip)  # raises ValueError with a helpful message
        ip = parsed
    if isinstance(ip, IPv4Address):
        return _v4_reason(ip, allow_private_network)
    return _v6_reason(ip, allow_private_network)
