"""Outbound-network safety: the SSRF guard and the only outbound HTTP client factories.

Self-contained: depends on httpx and anyio only (no web-framework imports).
"""

from core.net.addresses import IPAddress, is_forbidden_address, parse_ip_literal
from core.net.client import build_safe_client, build_safe_transport, send_through
from core.net.errors import URLNotAllowed
from core.net.policy import ResolvedTarget, check_url
from core.net.resolver import Resolver, system_resolver
from core.net.transport import (
    CONTENT_ENCODING_EXTENSION,
    DEFAULT_MAX_BODY_BYTES,
    TRUNCATED_EXTENSION,
    SafeTransport,
    is_truncated,
)

__all__ = [
    "CONTENT_ENCODING_EXTENSION",
    "DEFAULT_MAX_BODY_BYTES",
    "TRUNCATED_EXTENSION",
    "IPAddress",
    "ResolvedTarget",
    "Resolver",
    "SafeTransport",
    "URLNotAllowed",
    "build_safe_client",
    "build_safe_transport",
    "check_url",
    "is_forbidden_address",
    "is_truncated",
    "parse_ip_literal",
    "send_through",
    "system_resolver",
]
