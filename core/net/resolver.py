"""Injectable asynchronous host resolution."""

from __future__ import annotations

import functools
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv6Address, ip_address

import anyio.to_thread

from core.net.addresses import IPAddress

#: ``async (host, port) -> addresses``. Raise ``OSError`` (e.g. ``socket.gaierror``)
#: when the name does not resolve. Strings are accepted and parsed strictly.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress | str]]]


def normalise_addresses(addresses: Sequence[IPAddress | str]) -> tuple[IPAddress, ...]:
    """Parse resolver output, drop IPv6 zone ids and duplicates, keep order."""
    result: list[IPAddress] = []
    for raw in addresses:
        ip = ip_address(raw) if isinstance(raw, str) else raw
        if isinstance(ip, IPv6Address) and ip.scope_id:
            ip = IPv6Address(int(ip))
        if ip not in result:
            result.append(ip)
    return tuple(result)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` with the OS resolver (``getaddrinfo``) in a worker thread."""
    lookup = functools.partial(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    infos = await anyio.to_thread.run_sync(lookup, abandon_on_cancel=True)
    return [ip_address(info[4][0]) for info in infos]
