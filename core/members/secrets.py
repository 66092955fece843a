"""Password hashing (argon2id, ``argon2-cffi``) and the opaque tokens of invitation,
reset and session links (256 random bits; only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("patchbay-dummy-password")
"""Verified against when the account does not exist, so timing does not tell."""

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with its parameters) of ``password``."""
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; costs the same when ``stored`` is None."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was hashed with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


def new_token() -> str:
    """A fresh opaque token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a, b)
