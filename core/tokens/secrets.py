"""Token format, hashing and constant-time verification.

Format: ``pbt_<26-char id>_<43-char secret>``. The id allows a direct lookup; the
secret carries 256 bits of entropy; the prefix makes leaked tokens easy to grep for.
Only ``sha256(token)`` and a short preview are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from core.ids import new_id

PREFIX = "pbt"


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    plaintext: str
    token_hash: str
    preview: str


def hash_token(plaintext: str) -> str:
    """Hex SHA-256 of the full token string."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue(token_id: str | None = None) -> IssuedToken:
    """Make a new token id, plaintext, hash and preview."""
    token_id = token_id or new_id("tok")  # a rotation keeps the record's id
    plaintext = f"{PREFIX}_{token_id[4:]}_{secrets.token_urlsafe(32)}"
    return IssuedToken(
        token_id, plaintext, hash_token(plaintext), f"{plaintext[:12]}…{plaintext[-4:]}"
    )


def parse_token_id(plaintext: str) -> str | None:
    """The token id embedded in ``plaintext``, or None if it is not shaped like our tokens."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 26 or len(parts[2]) < 32:
        return None
    return f"tok_{parts[1]}"


def matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``plaintext``'s hash with ``stored_hash``."""
    return hmac.compare_digest(hash_token(plaintext), stored_hash)
