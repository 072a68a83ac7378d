"""Tandem t:slim X2 pairing, host side: the central/pump challenge exchange (firmware V1).

Source: pumpX2's public description (authentication messages on the authorization
characteristic). The exchange, all on characteristic 7B83FFF9:

1. CentralChallengeRequest, opcode 16: app instance id u16, a random 8-byte challenge.
2. CentralChallengeResponse, opcode 17: app instance id u16, a 20-byte hash of the
   challenge, an 8-byte HMAC key.
3. PumpChallengeRequest, opcode 18: app instance id u16, HMAC-SHA1 of that HMAC key keyed
   with the pairing code's 16 letters and digits (dashes and spaces dropped).
4. PumpChallengeResponse, opcode 19: app instance id u16, success u8 (0: wrong code).

Newer firmware shows a 6-digit code and runs a J-PAKE exchange instead
(``uploader.protocols.tandem_jpake``); this module recognises such a code
(``is_six_digit_code``) so the driver picks that exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from uploader.protocols.tandem import Message, expect

CENTRAL_CHALLENGE_REQUEST = 16
CENTRAL_CHALLENGE_RESPONSE = 17
PUMP_CHALLENGE_REQUEST = 18
PUMP_CHALLENGE_RESPONSE = 19

CHALLENGE_SIZE = 8
CODE_LENGTH = 16


class PairingCodeError(ValueError):
    """A pairing code that cannot be the one the pump shows (wrong length or characters)."""


def normalize_code(code: str) -> str:
    """The code's letters and digits, as the pump checks them (dashes and spaces dropped)."""
    kept = "".join(c for c in code if c.isascii() and c.isalnum())
    if is_six_digit_code(kept):
        return kept
    if len(kept) != CODE_LENGTH:
        raise PairingCodeError(
            f"the pairing code has {len(kept)} letters and digits; the pump shows 16 "
            "(for example ABCD-EFGH-IJKL-MNOP) or, on newer firmware, 6 digits"
        )
    return kept


def is_six_digit_code(code: str) -> bool:
    """True for the 6-digit code of newer firmware (J-PAKE pairing)."""
    return len(code) == 6 and code.isdigit()


def central_challenge_request(
    transaction_id: int, app_instance_id: int, challenge: bytes
) -> Message:
    """Step 1: the central's challenge."""
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"central challenge must be {CHALLENGE_SIZE} bytes")
    cargo = struct.pack("<H", app_instance_id) + challenge
    return Message(CENTRAL_CHALLENGE_REQUEST, transaction_id, cargo)


@dataclass(frozen=True)
class CentralChallengeResponse:
    """Step 2: the pump's answer, carrying the HMAC key the code is proven with."""

    app_instance_id: int
    challenge_hash: bytes
    hmac_key: bytes


def parse_central_challenge_response(message: Message) -> CentralChallengeResponse:
    """Parse step 2 (30 bytes of cargo)."""
    expect(message, CENTRAL_CHALLENGE_RESPONSE, 30)
    (app_instance_id,) = struct.unpack_from("<H", message.cargo)
    return CentralChallengeResponse(app_instance_id, message.cargo[2:22], message.cargo[22:30])


def pump_challenge_hash(code: str, hmac_key: bytes) -> bytes:
    """HMAC-SHA1 of the pump's HMAC key, keyed with the 16-character code."""
    return hmac.new(normalize_code(code).encode("ascii"), hmac_key, hashlib.sha1).digest()


def pump_challenge_request(
    transaction_id: int, app_instance_id: int, code: str, hmac_key: bytes
) -> Message:
    """Step 3: proof that the user typed the code the pump shows."""
    cargo = struct.pack("<H", app_instance_id) + pump_challenge_hash(code, hmac_key)
    return Message(PUMP_CHALLENGE_REQUEST, transaction_id, cargo)


def parse_pump_challenge_response(message: Message) -> bool:
    """Step 4: True when the pump accepted the code."""
    expect(message, PUMP_CHALLENGE_RESPONSE, 3)
    return message.cargo[2] == 1
