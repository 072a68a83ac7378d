"""Tandem t:slim X2 pairing with the 6-digit code of newer firmware, pump side: EC-JPAKE.

Source: pumpX2's public description (builders/JpakeAuthBuilder.java, builders/crypto/
Hkdf.java and HmacSha256.java, bluetooth/PumpStateSupplier.java, request|response/
authentication/Jpake1a..Jpake4*.java) and the EC-JPAKE it uses (io.particle EcJpake, which
is mbed TLS's ``ecjpake.c``, after the Thread specification 7.4.2); facts only, no code
taken. The math is checked against mbed TLS's public self-test vectors
(tests/vectors/tandem/jpake.json). The pump is the *server* (proof id ``server``), the app
the *client* (``client``); P-256, SHA-256; the secret ``s`` is the code's ASCII digits read
as one big-endian number.

- Points travel as ``0x41, 04 || X || Y``; a key with its Schnorr proof (ECJPAKEKeyKP) is
  ``X, V, len u8, r`` with ``V = v·G``, ``r = v - x·h mod n`` and
  ``h = SHA-256(u32 len, G | u32 len, V | u32 len, X | u32 len, id) mod n``; it verifies
  when ``V == h·X + r·G``. The pump writes ``r`` on 32 bytes; it reads any length.
- Round one: the app's two keys (x1, x2) arrive split at byte 165 in Jpake1aRequest (32)
  and Jpake1bRequest (34); the pump's (x3, x4) go back split the same way in
  Jpake1aResponse (33) and Jpake1bResponse (35). The app's proofs are checked once both
  halves are in.
- Round two: the app's key ``xa = x2·s`` on ``GA = X1 + X3 + X4`` (Jpake2Request, 36);
  the pump's ``xb = x4·s`` on ``GB = X1 + X2 + X3``, after ``03 00 17`` (named curve
  P-256), in Jpake2Response (37). A round shorter than its fixed cargo is zero-padded.
- Derived secret: ``SHA-256(x of x4·(XA - (x4·s)·X2))``, 32 bytes.
- Confirmation: Jpake3SessionKeyRequest (38) -> Jpake3SessionKeyResponse (39: app instance
  id, pump nonce 8, reserved 8); key = HKDF-SHA256(salt = that nonce, ikm = derived
  secret, no info, 32 bytes); Jpake4KeyConfirmationRequest (40: app instance id, app nonce
  8, reserved 8, HMAC-SHA256(key, app nonce)) -> Jpake4KeyConfirmationResponse (41: same
  layout with the pump's nonce). The key also signs signed messages. A reconnect with the
  saved derived secret starts at Jpake3 (confirmation only).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from ecdsa import NIST256p
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from emulator.protocols import tandem_constants as c

_CURVE = NIST256p.curve
_G: PointJacobi = NIST256p.generator
_N: int = NIST256p.order
_POINT_SIZE = 65  # 04 || X || Y
_CLIENT = b"client"
_SERVER = b"server"
_NAMED_CURVE_P256 = bytes([3, 0, 0x17])  # ECParameters: named_curve, secp256r1


class JpakeError(ValueError):
    """A malformed or unproven J-PAKE message; ``step`` names which."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


def normalize_six_digit(shown: str) -> str:
    """The 6-digit code as the pump shows it (spaces and dashes ignored)."""
    code = "".join(ch for ch in shown if not ch.isspace() and ch != "-")
    if len(code) != c.JPAKE_CODE_LENGTH or not (code.isascii() and code.isdigit()):
        raise JpakeError(
            "pairing code",
            f"{shown!r} is not {c.JPAKE_CODE_LENGTH} digits (the newer pump shows 6 digits)",
        )
    return code


def is_six_digit(shown: str) -> bool:
    try:
        normalize_six_digit(shown)
    except JpakeError:
        return False
    return True


def secret_number(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


def _encode(point: PointJacobi) -> bytes:
    x, y = int(point.x()), int(point.y())
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _decode(step: str, data: bytes) -> PointJacobi:
    if len(data) != _POINT_SIZE or data[0] != 4:
        raise JpakeError(step, "a point is not 65 bytes, uncompressed (04 || X || Y)")
    try:
        point = PointJacobi.from_bytes(_CURVE, data, order=_N)
    except Exception as error:  # python-ecdsa raises several types for a bad encoding
        raise JpakeError(step, f"not a point of P-256 ({error})") from None
    if point == INFINITY:
        raise JpakeError(step, "the point at infinity")
    return point


def _zkp_hash(g: PointJacobi, v: PointJacobi, x: PointJacobi, ident: bytes) -> int:
    data = b"".join(len(p).to_bytes(4, "big") + p for p in map(_encode, (g, v, x)))
    data += len(ident).to_bytes(4, "big") + ident
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % _N


def _write_key(g: PointJacobi, x: int, v: int, ident: bytes) -> tuple[bytes, PointJacobi]:
    """ECJPAKEKeyKP for private ``x`` on generator ``g`` with proof nonce ``v``."""
    big_x, big_v = g * x, g * v
    r = (v - x * _zkp_hash(g, big_v, big_x, ident)) % _N
    data = b"\x41" + _encode(big_x) + b"\x41" + _encode(big_v) + b"\x20" + r.to_bytes(32, "big")
    return data, big_x


def _read_point(step: str, data: bytes, at: int) -> tuple[PointJacobi, int]:
    if at >= len(data):
        raise JpakeError(step, "the round ends early")
    size = data[at]
    if size != _POINT_SIZE:
        raise JpakeError(step, f"point length {size}, expected {_POINT_SIZE}")
    return _decode(step, data[at + 1 : at + 1 + size]), at + 1 + size


def read_key(
    step: str, data: bytes, at: int, g: PointJacobi, ident: bytes
) -> tuple[PointJacobi, int]:
    """The public key of an ECJPAKEKeyKP at ``at``, once its proof is checked."""
    big_x, at = _read_point(step, data, at)
    big_v, at = _read_point(step, data, at)
    if at >= len(data) or not 1 <= data[at] <= 32 or at + 1 + data[at] > len(data):
        raise JpakeError(step, "the proof's r is missing or longer than 32 bytes")
    r = int.from_bytes(data[at + 1 : at + 1 + data[at]], "big")
    at += 1 + data[at]
    if g * r + big_x * _zkp_hash(g, big_v, big_x, ident) != big_v:
        raise JpakeError(step, "the zero-knowledge proof does not verify")
    return big_x, at


def derive_secret(peer: PointJacobi, peer_second: PointJacobi, own_second: int, s: int) -> bytes:
    """SHA-256 of the x coordinate of ``own_second·(peer - (own_second·s)·peer_second)``:
    the secret both sides derive (mbed TLS's premaster secret)."""
    k = (peer + peer_second * (_N - own_second * s % _N)) * own_second
    if k == INFINITY:
        raise JpakeError("derive", "the shared point is the point at infinity")
    return hashlib.sha256(int(k.x()).to_bytes(32, "big")).digest()


def _only_padding(step: str, data: bytes, at: int) -> None:
    if any(data[at:]):
        raise JpakeError(step, f"{len(data) - at} unexpected bytes after the round")


def _app_id(step: str, cargo: bytes, size: int) -> int:
    if len(cargo) > size or len(cargo) < 2:
        raise JpakeError(step, f"cargo of {len(cargo)} bytes, expected {size}")
    return int.from_bytes(cargo[:2], "little")


def random_scalar() -> int:
    return secrets.randbelow(_N - 1) + 1


@dataclass
class _Keys:
    x3: int
    x4: int
    big_x3: PointJacobi
    big_x4: PointJacobi
    round1: bytes


class PumpJpake:
    """One full EC-JPAKE exchange, pump side. Each ``round*`` takes the request's cargo and
    returns the response's cargo; ``derived_secret`` is set after round two. ``scalar``
    draws the private keys and proof nonces (x3, v3, x4, v4, then v of round two)."""

    def __init__(self, code: str, scalar: Callable[[], int] = random_scalar) -> None:
        self._s = secret_number(normalize_six_digit(code)) % _N
        self._scalar = scalar
        self._keys: _Keys | None = None
        self._first_half: bytes | None = None
        self._app_x1: PointJacobi | None = None
        self._app_x2: PointJacobi | None = None
        self.derived_secret: bytes | None = None

    def round1a(self, cargo: bytes) -> bytes:
        """Jpake1aRequest -> Jpake1aResponse: the pump's first key."""
        app = _app_id("Jpake1aRequest", cargo, c.JPAKE_ROUND_CARGO)
        x3, v3 = self._scalar(), self._scalar()
        key3, big_x3 = _write_key(_G, x3, v3, _SERVER)
        x4, v4 = self._scalar(), self._scalar()
        key4, big_x4 = _write_key(_G, x4, v4, _SERVER)
        self._keys = _Keys(x3, x4, big_x3, big_x4, key3 + key4)
        self._first_half = bytes(cargo[2:]).ljust(c.JPAKE_HALF, b"\0")
        return app.to_bytes(2, "little") + self._keys.round1[: c.JPAKE_HALF]

    def round1b(self, cargo: bytes) -> bytes:
        """Jpake1bRequest -> Jpake1bResponse: checks the app's two proofs, sends the pump's
        second key."""
        step = "Jpake1bRequest"
        app = _app_id(step, cargo, c.JPAKE_ROUND_CARGO)
        if self._keys is None or self._first_half is None:
            raise JpakeError(step, "no Jpake1aRequest before it")
        whole = self._first_half + bytes(cargo[2:])
        self._app_x1, at = read_key(step, whole, 0, _G, _CLIENT)
        self._app_x2, at = read_key(step, whole, at, _G, _CLIENT)
        _only_padding(step, whole, at)
        return app.to_bytes(2, "little") + self._keys.round1[c.JPAKE_HALF :]

    def round2(self, cargo: bytes) -> bytes:
        """Jpake2Request -> Jpake2Response: checks the app's round two, sends the pump's and
        derives the shared secret."""
        step = "Jpake2Request"
        app = _app_id(step, cargo, c.JPAKE_ROUND_CARGO)
        keys, x1, x2 = self._keys, self._app_x1, self._app_x2
        if keys is None or x1 is None or x2 is None:
            raise JpakeError(step, "round one is not complete")
        body = bytes(cargo[2:])
        big_xa, at = read_key(step, body, 0, x1 + keys.big_x3 + keys.big_x4, _CLIENT)
        _only_padding(step, body, at)
        xb = keys.x4 * self._s % _N
        answer, _ = _write_key(x1 + x2 + keys.big_x3, xb, self._scalar(), _SERVER)
        self.derived_secret = derive_secret(big_xa, x2, keys.x4, self._s)
        return app.to_bytes(2, "little") + _NAMED_CURVE_P256 + answer


# ---- confirmation (Jpake3 / Jpake4), also the whole of a re-authentication ----------------------


def session_key(device_nonce: bytes, derived_secret: bytes) -> bytes:
    """HKDF-SHA256(salt = the Jpake3 nonce, ikm = derived secret): the confirmation key and
    the key of signed messages (pumpX2 PumpStateSupplier)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=device_nonce, info=b"")
    return hkdf.derive(derived_secret)


def confirmation_digest(key: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, nonce, hashlib.sha256).digest()


def parse_session_key_request(cargo: bytes) -> int:
    """The u16 of Jpake3SessionKeyRequest (pumpX2 always sends 0)."""
    if len(cargo) != c.JPAKE3_REQUEST_CARGO:
        raise JpakeError("Jpake3SessionKeyRequest", f"cargo of {len(cargo)} bytes, expected 2")
    return int.from_bytes(cargo, "little")


def session_key_response(app_instance_id: int, device_nonce: bytes) -> bytes:
    """Cargo of Jpake3SessionKeyResponse: app instance id, nonce, 8 reserved zero bytes."""
    return app_instance_id.to_bytes(2, "little") + device_nonce + bytes(c.JPAKE_RESERVED)


@dataclass(frozen=True)
class KeyConfirmation:
    app_instance_id: int
    nonce: bytes
    hash_digest: bytes


def parse_key_confirmation(cargo: bytes) -> KeyConfirmation:
    """Jpake4KeyConfirmationRequest: app instance id, nonce 8, reserved 8, digest 32."""
    if len(cargo) != c.JPAKE4_CARGO:
        raise JpakeError(
            "Jpake4KeyConfirmationRequest", f"cargo of {len(cargo)} bytes, expected 50"
        )
    nonce_end = 2 + c.JPAKE_NONCE
    return KeyConfirmation(
        int.from_bytes(cargo[:2], "little"),
        bytes(cargo[2:nonce_end]),
        bytes(cargo[nonce_end + c.JPAKE_RESERVED :]),
    )


def key_confirmation_response(app_instance_id: int, nonce: bytes, hash_digest: bytes) -> bytes:
    """Cargo of Jpake4KeyConfirmationResponse (same layout as the request)."""
    return app_instance_id.to_bytes(2, "little") + nonce + bytes(c.JPAKE_RESERVED) + hash_digest


def new_nonce() -> bytes:
    return os.urandom(c.JPAKE_NONCE)
