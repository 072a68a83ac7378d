"""Password hashing for mock cloud accounts.

For now stdlib scrypt with a random per-password salt, compared in constant time. The
encoded form carries its own cost parameters (``scrypt$n$r$p$salt$hash``), so the cost can
change, and a later algorithm (argon2) can be added beside it, without breaking stored
hashes. Nothing outside this module knows how passwords are hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_MEMORY = 64 * 1024 * 1024


@dataclass(frozen=True)
class ScryptCost:
    """scrypt work factors: CPU/memory cost ``n`` (a power of two), block size, parallelism."""

    n: int = 2**14
    r: int = 8
    p: int = 1


DEFAULT_COST = ScryptCost()
"""Cost used for new hashes; looked up at call time so tests may lower it."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=_MAX_MEMORY,
        dklen=_KEY_BYTES,
    )


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    """Hash ``password`` with a fresh random salt; returns the self-describing encoded hash."""
    use = cost if cost is not None else DEFAULT_COST
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, use)
    return f"{_SCHEME}${use.n}${use.r}${use.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time compare; False if malformed)."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return False
    try:
        cost = ScryptCost(n=int(parts[1]), r=int(parts[2]), p=int(parts[3]))
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        actual = _derive(password, salt, cost)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH: str | None = None


def waste_equal_time(password: str) -> None:
    """Spend about as long as a real check, so unknown accounts don't answer faster."""
    global _DUMMY_HASH  # noqa: PLW0603 - a lazily computed module constant
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    verify_password(password, _DUMMY_HASH)
