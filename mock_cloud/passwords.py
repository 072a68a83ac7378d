"""Password hashing for mock cloud accounts: argon2id, with old scrypt hashes still accepted.

New hashes are argon2id (argon2-cffi) in the standard PHC string form
``$argon2id$v=19$m=...,t=...,p=...$salt$hash``, which carries its own cost parameters.
Hashes made by the foundation mock cloud (``scrypt$n$r$p$salt$hash``, stdlib scrypt) still
verify; ``needs_rehash`` tells the caller to replace them (and argon2 hashes made with
other costs) after a successful login. Nothing outside this module knows how passwords
are hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_SCRYPT = "scrypt"
_ARGON2 = "$argon2"
_SCRYPT_MAX_MEMORY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Argon2Cost:
    """argon2id work factors: passes, memory in KiB, lanes.

    The default is OWASP's recommended minimum for argon2id (19 MiB, 2 passes, 1 lane):
    about 35 ms a check here, where argon2-cffi's own default (64 MiB, 3 passes, 4 lanes)
    takes 120 ms; a test suite logs in hundreds of times.
    """

    time_cost: int = 2
    memory_cost: int = 19456
    parallelism: int = 1


DEFAULT_COST = Argon2Cost()
"""Cost used for new hashes; looked up at call time so tests may lower it."""


def _hasher(cost: Argon2Cost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_cost, parallelism=cost.parallelism
    )


def hash_password(password: str, cost: Argon2Cost | None = None) -> str:
    """Hash ``password`` (argon2id, fresh random salt); returns the self-describing string."""
    return _hasher(cost if cost is not None else DEFAULT_COST).hash(password)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_scrypt(password: str, encoded: str) -> bool:
    parts = encoded.split("$")
    if len(parts) != 6:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            maxmem=_SCRYPT_MAX_MEMORY,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (argon2 or legacy scrypt; False if malformed)."""
    if encoded.startswith(_ARGON2):
        try:
            return _hasher(DEFAULT_COST).verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    if encoded.startswith(_SCRYPT + "$"):
        return _verify_scrypt(password, encoded)
    return False


def needs_rehash(encoded: str) -> bool:
    """Whether a hash that just verified should be replaced by a fresh default one."""
    if not encoded.startswith(_ARGON2):
        return True
    try:
        return _hasher(DEFAULT_COST).check_needs_rehash(encoded)
    except InvalidHashError:
        return True


_DUMMY_HASHES: dict[Argon2Cost, str] = {}


def waste_equal_time(password: str) -> None:
    """Spend about as long as a real check, so unknown accounts don't answer faster."""
    cost = DEFAULT_COST
    if cost not in _DUMMY_HASHES:
        _DUMMY_HASHES[cost] = hash_password("not-a-real-password", cost)
    verify_password(password, _DUMMY_HASHES[cost])
