"""Tandem t:slim X2 pairing with the 6-digit code (newer firmware), host side: EC-JPAKE.

Source: pumpX2's public description (``JpakeAuthBuilder``, ``EcJpake`` after mbed TLS's
EC-JPAKE as the Thread specification uses it, ``Hkdf``, ``HmacSha256``, the ``Jpake1a`` ..
``Jpake4`` authentication messages); the EC-JPAKE math is checked against mbed TLS's public
self-test vectors. Facts, no code taken; choices in docs/protocols/tandem-host.md.

EC-JPAKE on P-256 with SHA-256. The app is the client (id ``client``), the pump the server
(id ``server``); the shared secret is the code's ASCII digits read as one big-endian number.
Points travel as ``length u8, 04 || X || Y``; a Schnorr proof of a point ``X = x·G`` is
``V`` (a point, as above) then ``r`` (``length u8``, big-endian), with
``r = v - x·h mod n``, ``V = v·G`` and ``h = SHA-256(G, V, X, id) mod n`` where each point
is hashed as ``u32 BE length, 04 || X || Y`` and the id as ``u32 BE length, id``.

- Round one (each side): ``X1, ZKP(x1), X2, ZKP(x2)``: 165 + 165 bytes. The app sends the
  halves in Jpake1aRequest (32) and Jpake1bRequest (34); the pump's come back in
  Jpake1aResponse (33) and Jpake1bResponse (35). Cargo: app instance id u16, 165 bytes.
- Round two: ``A = (x2·s)·Gc`` with its proof against the generator
  ``Gc = X1 + X3 + X4`` (own first point, the peer's two). The app's (165 bytes) goes in
  Jpake2Request (36); the pump's, 3 bytes longer (``03 00 17``: a named curve, P-256), in
  Jpake2Response (37).
- Derived secret: ``K = x2·(B - (x2·s)·X4)`` (B the pump's round two, X4 its second point),
  ``SHA-256`` of K's x coordinate (32 bytes, big-endian).
- Confirmation: Jpake3SessionKeyRequest (38: app instance id) -> Jpake3SessionKeyResponse
  (39: app instance id, pump nonce 8 bytes, reserved 8); the key is
  ``HKDF-SHA256(salt = pump nonce, ikm = derived secret)``, 32 bytes, no info. Then
  Jpake4KeyConfirmationRequest (40: app instance id, app nonce 8, reserved 8, HMAC-SHA256
  of the app nonce with that key) -> Jpake4KeyConfirmationResponse (41: app instance id,
  pump nonce 8, reserved 8, HMAC-SHA256 of the pump nonce with the key). The app checks
  the pump's digest: a wrong code gives a different derived secret and a digest that fails.
- The same key signs signed messages. A reconnect with the saved derived secret skips
  rounds one and two and goes straight to Jpake3 (confirmation only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from ecdsa import NIST256p
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from uploader.protocols.tandem import Message, expect

JPAKE_1A_REQUEST = 32
JPAKE_1A_RESPONSE = 33
JPAKE_1B_REQUEST = 34
JPAKE_1B_RESPONSE = 35
JPAKE_2_REQUEST = 36
JPAKE_2_RESPONSE = 37
JPAKE_3_REQUEST = 38
JPAKE_3_RESPONSE = 39
JPAKE_4_REQUEST = 40
JPAKE_4_RESPONSE = 41

HALF_ROUND_SIZE = 165
"""One key and its proof: point (1 + 65), proof point (1 + 65), scalar (1 + 32)."""
PUMP_ROUND_TWO_SIZE = 168
"""The pump's round two: the curve (3 bytes) before the point and its proof."""
NONCE_SIZE = 8
RESERVED = bytes(8)
DIGEST_SIZE = 32

CLIENT_ID = b"client"
SERVER_ID = b"server"
NAMED_CURVE = 3
P256_CURVE_ID = 23

_CURVE: Any = NIST256p.curve
_G: Any = NIST256p.generator
N: int = int(NIST256p.order)
_COORD = 32

Point = Any
"""A P-256 point (python-ecdsa's ``PointJacobi``, untyped)."""


class JpakeError(ValueError):
    """The pump's J-PAKE data is malformed or its proof does not verify (names which)."""


# -- numbers and points ----------------------------------------------------------------------


def code_password(code: str) -> bytes:
    """The J-PAKE password of a 6-digit code: its ASCII digits (read as one big-endian
    number, the shared secret ``s``)."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        raise ValueError("a J-PAKE pairing code is 6 digits")
    return code.encode("ascii")


def encode_point(point: Point) -> bytes:
    """``04 || X || Y`` (uncompressed, 65 bytes)."""
    return b"\x04" + int(point.x()).to_bytes(_COORD, "big") + int(point.y()).to_bytes(_COORD, "big")


def decode_point(data: bytes, what: str) -> Point:
    """A point from ``04 || X || Y``, refused unless it is on P-256 and not the infinity."""
    if len(data) != 1 + 2 * _COORD or data[0] != 4:
        raise JpakeError(f"{what} is not an uncompressed P-256 point ({len(data)} bytes)")
    x = int.from_bytes(data[1 : 1 + _COORD], "big")
    y = int.from_bytes(data[1 + _COORD :], "big")
    if not _CURVE.contains_point(x, y):
        raise JpakeError(f"{what} is not on the P-256 curve")
    return PointJacobi(_CURVE, x, y, 1, N)


def _is_infinity(point: Point) -> bool:
    return bool(point == INFINITY)


def generator() -> Point:
    """The P-256 base point G."""
    return _G


def mul(point: Point, scalar: int) -> Point:
    return point * (scalar % N)


def zkp_hash(base: Point, v: Point, x: Point, ident: bytes) -> int:
    """``h = SHA-256(len|G, len|V, len|X, len|id) mod n`` (lengths u32 big-endian)."""
    parts = b""
    for point in (base, v, x):
        encoded = encode_point(point)
        parts += struct.pack(">I", len(encoded)) + encoded
    parts += struct.pack(">I", len(ident)) + ident
    return int.from_bytes(hashlib.sha256(parts).digest(), "big") % N


def prove(base: Point, x: int, public: Point, ident: bytes, v: int) -> tuple[Point, int]:
    """A Schnorr proof that ``public = x·base``, with the nonce ``v``: ``(V, r)``."""
    v_point = mul(base, v)
    h = zkp_hash(base, v_point, public, ident)
    return v_point, (v - x * h) % N


def proof_holds(base: Point, public: Point, v_point: Point, r: int, ident: bytes) -> bool:
    """``V == r·base + h·X``: the proof's owner knows the discrete log of ``public``."""
    h = zkp_hash(base, v_point, public, ident)
    return bool(mul(base, r) + mul(public, h) == v_point)


# -- serialisation ---------------------------------------------------------------------------


def _field(data: bytes) -> bytes:
    if len(data) > 0xFF:
        raise ValueError("a J-PAKE field is at most 255 bytes")
    return bytes([len(data)]) + data


def write_key_and_proof(public: Point, v_point: Point, r: int) -> bytes:
    """``point, proof point, scalar`` (the scalar on 32 bytes, as the fixed cargo needs)."""
    return (
        _field(encode_point(public))
        + _field(encode_point(v_point))
        + _field(r.to_bytes(_COORD, "big"))
    )


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.at = 0
        self.what = what

    def take(self, size: int, name: str) -> bytes:
        if self.at + size > len(self.data):
            raise JpakeError(f"{self.what} ends inside {name}")
        out = self.data[self.at : self.at + size]
        self.at += size
        return out

    def field(self, name: str) -> bytes:
        (size,) = self.take(1, f"the length of {name}")
        return self.take(size, name)

    def point(self, name: str) -> Point:
        return decode_point(self.field(name), f"{name} in {self.what}")

    def scalar(self, name: str) -> int:
        raw = self.field(name)
        if not raw:
            raise JpakeError(f"{name} in {self.what} is empty")
        value = int.from_bytes(raw, "big")
        if value >= N:
            raise JpakeError(f"{name} in {self.what} is not below the curve order")
        return value

    def curve(self) -> None:
        kind, curve_id = struct.unpack(">BH", self.take(3, "the curve"))
        if kind != NAMED_CURVE or curve_id != P256_CURVE_ID:
            raise JpakeError(
                f"{self.what} names curve type {kind} id {curve_id}, not P-256 (3, 23)"
            )

    def rest_is_padding(self) -> None:
        if any(self.data[self.at :]):
            raise JpakeError(f"{self.what} has {len(self.data) - self.at} bytes after its proof")


# -- the client role -------------------------------------------------------------------------


def random_scalar() -> int:
    """A private scalar in [1, n-1]."""
    return 1 + secrets.randbelow(N - 1)


class JpakeClient:
    """The app's side of one EC-JPAKE exchange with ``password`` (``code_password(code)``).

    ``scalars`` gives the private values in the order they are needed (x1, v1, x2, v2 for
    round one, v for round two's proof); only tests fix them."""

    def __init__(self, password: bytes, scalars: Callable[[], int] = random_scalar) -> None:
        self._s = int.from_bytes(password, "big") % N
        self._scalars = scalars
        self._x1 = self._x2 = 0
        self._X1: Point = None
        self._X2: Point = None
        self._X3: Point = None
        self._X4: Point = None
        self._B: Point = None
        self._round_one = b""

    def round_one(self) -> bytes:
        """The app's round one: 330 bytes (Jpake1a carries the first half, Jpake1b the second)."""
        if not self._round_one:
            out = b""
            for slot in (1, 2):
                x = self._scalars()
                public = mul(_G, x)
                v_point, r = prove(_G, x, public, CLIENT_ID, self._scalars())
                out += write_key_and_proof(public, v_point, r)
                if slot == 1:
                    self._x1, self._X1 = x, public
                else:
                    self._x2, self._X2 = x, public
            self._round_one = out
        return self._round_one

    def read_round_one(self, data: bytes) -> None:
        """The pump's round one (its Jpake1a and Jpake1b halves joined, 330 bytes), each half
        read on its own (a short proof scalar leaves zero padding at the end of its half)."""
        if len(data) != 2 * HALF_ROUND_SIZE:
            raise JpakeError(f"the pump's round one has {len(data)} bytes, not 330")
        keys = []
        for name, half in (("X3", data[:HALF_ROUND_SIZE]), ("X4", data[HALF_ROUND_SIZE:])):
            reader = _Reader(half, f"the pump's round one ({name})")
            public = reader.point(f"its key {name}")
            v_point = reader.point(f"the proof of {name}")
            r = reader.scalar(f"the proof scalar of {name}")
            reader.rest_is_padding()
            if _is_infinity(public) or not proof_holds(_G, public, v_point, r, SERVER_ID):
                raise JpakeError(f"the pump's proof for its round-one key {name} does not verify")
            keys.append(public)
        self._X3, self._X4 = keys

    def round_two(self) -> bytes:
        """The app's round two (165 bytes): ``A = (x2·s)·(X1 + X3 + X4)`` and its proof."""
        if self._X3 is None:
            raise RuntimeError("round two needs the pump's round one")
        base = self._X1 + self._X3 + self._X4
        xs = (self._x2 * self._s) % N
        public = mul(base, xs)
        v_point, r = prove(base, xs, public, CLIENT_ID, self._scalars())
        return write_key_and_proof(public, v_point, r)

    def read_round_two(self, data: bytes) -> None:
        """The pump's round two (168 bytes): curve, ``B`` and its proof over
        ``X1 + X2 + X3``."""
        if self._X3 is None:
            raise RuntimeError("round two needs the pump's round one")
        reader = _Reader(data, "the pump's round two")
        reader.curve()
        base = self._X1 + self._X2 + self._X3
        public = reader.point("its key B")
        v_point = reader.point("the proof of B")
        r = reader.scalar("the proof scalar of B")
        reader.rest_is_padding()
        if _is_infinity(public) or not proof_holds(base, public, v_point, r, SERVER_ID):
            raise JpakeError("the pump's proof for its round-two key B does not verify")
        self._B = public

    def derived_secret(self) -> bytes:
        """SHA-256 of the x coordinate of ``K = x2·(B - (x2·s)·X4)``: 32 bytes."""
        if self._B is None:
            raise RuntimeError("the secret needs the pump's round two")
        k = mul(self._B + (-mul(self._X4, self._x2 * self._s)), self._x2)
        if _is_infinity(k):
            raise JpakeError("the exchange produced no key (K is the point at infinity)")
        return hashlib.sha256(int(k.x()).to_bytes(_COORD, "big")).digest()

    def load_keys(self, x1: int, x2: int) -> None:
        """Use fixed private keys for round one (public test vectors give them)."""
        self._x1, self._X1 = x1 % N, mul(_G, x1)
        self._x2, self._X2 = x2 % N, mul(_G, x2)


# -- confirmation and the session key -------------------------------------------------------


def hkdf(nonce: bytes, key_material: bytes) -> bytes:
    """HKDF-SHA256 with the nonce as salt, no info, 32 bytes (pumpX2's ``Hkdf.build``)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"").derive(key_material)


def session_key(derived_secret: bytes, pump_nonce: bytes) -> bytes:
    """The key of this connection: confirms the exchange and signs signed messages."""
    return hkdf(pump_nonce, derived_secret)


def confirmation_digest(key: bytes, nonce: bytes) -> bytes:
    """HMAC-SHA256 of a nonce with the session key (either side's Jpake4 digest)."""
    return hmac.new(key, nonce, hashlib.sha256).digest()


# -- messages --------------------------------------------------------------------------------


def _with_app(app_instance_id: int, body: bytes) -> bytes:
    return struct.pack("<H", app_instance_id) + body


def round_request(opcode: int, transaction_id: int, app_instance_id: int, part: bytes) -> Message:
    """Jpake1a (32), Jpake1b (34) or Jpake2 (36): app instance id u16, 165 bytes."""
    if opcode not in (JPAKE_1A_REQUEST, JPAKE_1B_REQUEST, JPAKE_2_REQUEST):
        raise ValueError(f"opcode {opcode} is not a J-PAKE round request")
    if len(part) != HALF_ROUND_SIZE:
        raise ValueError(f"a J-PAKE round request carries {HALF_ROUND_SIZE} bytes")
    return Message(opcode, transaction_id, _with_app(app_instance_id, part))


def parse_round_response(message: Message, opcode: int) -> bytes:
    """The round bytes of Jpake1a/1b (165) or Jpake2 (168) responses."""
    size = PUMP_ROUND_TWO_SIZE if opcode == JPAKE_2_RESPONSE else HALF_ROUND_SIZE
    expect(message, opcode, 2 + size)
    return message.cargo[2:]


def session_key_request(transaction_id: int, app_instance_id: int) -> Message:
    """Jpake3SessionKeyRequest (38): app instance id u16 (pumpX2 builds its cargo from it)."""
    return Message(JPAKE_3_REQUEST, transaction_id, _with_app(app_instance_id, b""))


def parse_session_key_response(message: Message) -> bytes:
    """Jpake3SessionKeyResponse (39): the pump's 8-byte nonce."""
    expect(message, JPAKE_3_RESPONSE, 2 + NONCE_SIZE + len(RESERVED))
    return message.cargo[2 : 2 + NONCE_SIZE]


def key_confirmation_request(
    transaction_id: int, app_instance_id: int, nonce: bytes, digest: bytes
) -> Message:
    """Jpake4KeyConfirmationRequest (40): app id, nonce 8, reserved 8, digest 32."""
    if len(nonce) != NONCE_SIZE or len(digest) != DIGEST_SIZE:
        raise ValueError("Jpake4 carries an 8-byte nonce and a 32-byte digest")
    return Message(
        JPAKE_4_REQUEST, transaction_id, _with_app(app_instance_id, nonce + RESERVED + digest)
    )


@dataclass(frozen=True)
class KeyConfirmation:
    """The pump's Jpake4 answer."""

    nonce: bytes
    digest: bytes


def parse_key_confirmation_response(message: Message) -> KeyConfirmation:
    """Jpake4KeyConfirmationResponse (41): app id, nonce 8, reserved 8, digest 32."""
    expect(message, JPAKE_4_RESPONSE, 2 + NONCE_SIZE + len(RESERVED) + DIGEST_SIZE)
    body = message.cargo[2:]
    return KeyConfirmation(body[:NONCE_SIZE], body[NONCE_SIZE + len(RESERVED) :])


def pump_confirms(key: bytes, answer: KeyConfirmation) -> bool:
    """True when the pump's Jpake4 digest proves it holds the same session key."""
    return hmac.compare_digest(confirmation_digest(key, answer.nonce), answer.digest)
