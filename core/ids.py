"""Opaque, prefixed, time-ordered identifiers (``con_01J…``).

The body is a 26-character Crockford base32 ULID: 48 bits of milliseconds then
80 random bits, so ids sort by creation time and keyset pagination can order by
id alone.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_RE = re.compile(r"^[a-z]{2,6}_[0-9a-hjkmnp-tv-z]{26}$")


def new_id(prefix: str) -> str:
    """Return a new id such as ``con_01jd3k…`` with the given prefix."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def looks_like_id(value: str, prefix: str | None = None) -> bool:
    """True if ``value`` has the shape of an id (optionally with ``prefix``)."""
    if not _ID_RE.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
