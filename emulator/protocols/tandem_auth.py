"""Tandem t:slim X2 authentication, device side: the 16-character pairing code exchange and
signed messages.

From pumpX2's public description (request|response/authentication, builders/
PumpChallengeRequestBuilder.java, Packetize.java): the app sends CentralChallengeRequest
(app instance id u16, 8 random bytes); the pump answers CentralChallengeResponse (app
instance id, a 20-byte challenge hash, an 8-byte HMAC key); the app proves it knows the code
with PumpChallengeRequest (app instance id, HMAC-SHA1(key = code, message = HMAC key)); the
pump answers PumpChallengeResponse (app instance id, success). The challenge hash the pump
sends is diahil's choice (HMAC-SHA1(key = code, message = central challenge);
docs/protocols/tandem.md). A signed message ends with time since reset u32 and
HMAC-SHA1(key = authentication key, message = header..time since reset).
Vectors: tests/vectors/tandem/auth.json, signed.json.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from emulator.protocols import tandem_constants as c


class AuthError(ValueError):
    """A malformed authentication message or signature; ``step`` names which."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


def normalize_code(shown: str) -> str:
    """The code as the pump shows it, letters and digits only; it must be 16 characters."""
    code = "".join(ch for ch in shown if ch.isascii() and ch.isalnum())
    if len(code) != c.PAIRING_CODE_LENGTH:
        raise AuthError(
            "pairing code",
            f"{shown!r} has {len(code)} letters and digits; the pump shows "
            f"{c.PAIRING_CODE_LENGTH} (dashes and spaces are ignored)",
        )
    return code


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha1).digest()


@dataclass(frozen=True)
class CentralChallenge:
    app_instance_id: int
    challenge: bytes


def parse_central_challenge(cargo: bytes) -> CentralChallenge:
    if len(cargo) != 2 + c.CENTRAL_CHALLENGE_SIZE:
        raise AuthError("central challenge", f"cargo of {len(cargo)} bytes, expected 10")
    return CentralChallenge(int.from_bytes(cargo[:2], "little"), bytes(cargo[2:]))


def central_challenge_response(code: str, request: CentralChallenge, hmac_key: bytes) -> bytes:
    """Cargo of CentralChallengeResponse (opcode 17)."""
    digest = _hmac(code.encode(), request.challenge)
    return request.app_instance_id.to_bytes(2, "little") + digest + hmac_key


def pump_challenge_hash(code: str, hmac_key: bytes) -> bytes:
    return _hmac(code.encode(), hmac_key)


def check_pump_challenge(code: str, hmac_key: bytes, cargo: bytes) -> tuple[int, bool]:
    """(app instance id, whether the app knows the code) from a PumpChallengeRequest cargo."""
    if len(cargo) != 2 + c.HMAC_SIZE:
        raise AuthError("pump challenge", f"cargo of {len(cargo)} bytes, expected 22")
    expected = pump_challenge_hash(code, hmac_key)
    return int.from_bytes(cargo[:2], "little"), hmac.compare_digest(expected, cargo[2:])


def pump_challenge_response(app_instance_id: int, success: bool) -> bytes:
    """Cargo of PumpChallengeResponse (opcode 19)."""
    return app_instance_id.to_bytes(2, "little") + bytes([1 if success else 0])


def sign(opcode: int, transaction_id: int, cargo: bytes, key: bytes, since_reset: int) -> bytes:
    """The signed cargo: ``cargo``, time since reset u32, HMAC-SHA1 over the header onwards."""
    length = len(cargo) + c.SIGNATURE_SIZE
    signed_input = bytes([opcode, transaction_id, length]) + cargo + struct.pack("<I", since_reset)
    return cargo + struct.pack("<I", since_reset) + _hmac(key, signed_input)


def verify(opcode: int, transaction_id: int, signed_cargo: bytes, key: bytes) -> bytes:
    """The plain cargo of a signed message, if its HMAC is right."""
    if len(signed_cargo) < c.SIGNATURE_SIZE:
        raise AuthError("signature", f"cargo of {len(signed_cargo)} bytes has no signature")
    body = bytes([opcode, transaction_id, len(signed_cargo)]) + signed_cargo[: -c.HMAC_SIZE]
    if not hmac.compare_digest(_hmac(key, body), signed_cargo[-c.HMAC_SIZE :]):
        raise AuthError("signature", "HMAC-SHA1 does not match: wrong key or altered message")
    return bytes(signed_cargo[: -c.SIGNATURE_SIZE])
