"""Tandem t:slim X2 Bluetooth messages, host side: framing, CRC16, BLE packets, signing.

Source: the public description of the pump's protocol by the open-source pumpX2 project
(facts only; choices it leaves open are in docs/protocols/tandem-host.md).

A message is ``opcode u8, transaction id u8, cargo length u8, cargo, CRC16`` where the CRC is
CRC-16/CCITT (poly 0x1021, init 0xFFFF, no reflection, no final xor) over everything before
it, sent low byte first. A signed message (control requests) carries 24 more cargo bytes: the
pump's time since reset (u32 LE) and an HMAC-SHA1 over the message up to and including that
time, keyed with the authentication key; the length byte counts them.

On the air a message is cut into chunks of at most 18 bytes (40 for control requests), each
written as ``packets remaining u8, transaction id u8, chunk``; the last one says 0 remaining.
Numbers in cargo are little-endian.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from uploader.protocols import e2e_crc

DEFAULT_CHUNK_SIZE = 18
CONTROL_CHUNK_SIZE = 40
SIGNATURE_SIZE = 24
HMAC_SIZE = 20
HEADER_SIZE = 3
CRC_SIZE = 2

SERVICE_UUID = "0000fdfb-0000-1000-8000-00805f9b34fb"
CURRENT_STATUS_UUID = "7b83fff6-9f77-4e5c-8064-aae2c24838b9"
QUALIFYING_EVENTS_UUID = "7b83fff7-9f77-4e5c-8064-aae2c24838b9"
HISTORY_LOG_UUID = "7b83fff8-9f77-4e5c-8064-aae2c24838b9"
AUTHORIZATION_UUID = "7b83fff9-9f77-4e5c-8064-aae2c24838b9"
CONTROL_UUID = "7b83fffc-9f77-4e5c-8064-aae2c24838b9"
CONTROL_STREAM_UUID = "7b83fffd-9f77-4e5c-8064-aae2c24838b9"


class FrameError(ValueError):
    """Bytes from the pump that break the framing (CRC, length, chunk order, signature)."""


crc16 = e2e_crc.crc16
"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) as the pump computes it: the same CRC as the
Bluetooth services' E2E-CRC."""


@dataclass(frozen=True)
class Message:
    """One framed message: opcode, transaction id and cargo (signature included if signed)."""

    opcode: int
    transaction_id: int
    cargo: bytes


def expect(message: Message, opcode: int, size: int) -> None:
    """``FrameError`` unless ``message`` is ``opcode`` with ``size`` bytes of cargo."""
    if message.opcode != opcode:
        raise FrameError(f"expected opcode {opcode}, the pump sent {message.opcode}")
    if len(message.cargo) != size:
        raise FrameError(
            f"opcode {opcode} carries {len(message.cargo)} bytes of cargo, expected {size}"
        )


def sign_cargo(
    opcode: int, transaction_id: int, cargo: bytes, time_since_reset: int, key: bytes
) -> bytes:
    """The cargo of a signed message: cargo, time since reset u32, HMAC-SHA1 of the message."""
    length = len(cargo) + SIGNATURE_SIZE
    if length > 0xFF:
        raise ValueError(f"signed cargo of {length} bytes does not fit a length byte")
    head = bytes([opcode & 0xFF, transaction_id & 0xFF, length])
    signed_part = head + cargo + struct.pack("<I", time_since_reset & 0xFFFFFFFF)
    mac = hmac.new(key, signed_part, hashlib.sha1).digest()
    return cargo + struct.pack("<I", time_since_reset & 0xFFFFFFFF) + mac


def verify_signature(message: Message, key: bytes) -> tuple[bytes, int]:
    """Check a signed message's HMAC; return the plain cargo and the time since reset."""
    if len(message.cargo) < SIGNATURE_SIZE:
        raise FrameError(
            f"signed message 0x{message.opcode:02x} has {len(message.cargo)} cargo bytes, "
            f"fewer than its {SIGNATURE_SIZE}-byte signature"
        )
    plain = message.cargo[:-SIGNATURE_SIZE]
    (time_since_reset,) = struct.unpack_from("<I", message.cargo, len(plain))
    expected = sign_cargo(message.opcode, message.transaction_id, plain, time_since_reset, key)
    if not hmac.compare_digest(expected, message.cargo):
        raise FrameError(f"signed message 0x{message.opcode:02x} has a wrong HMAC")
    return plain, time_since_reset


def encode(message: Message) -> bytes:
    """The whole message with its CRC, before it is cut into BLE packets."""
    if len(message.cargo) > 0xFF:
        raise ValueError(f"cargo of {len(message.cargo)} bytes does not fit a length byte")
    body = (
        bytes([message.opcode & 0xFF, message.transaction_id & 0xFF, len(message.cargo)])
        + message.cargo
    )
    return body + struct.pack("<H", crc16(body))


def decode(frame: bytes) -> Message:
    """Parse one whole message, checking its length byte and CRC."""
    if len(frame) < HEADER_SIZE + CRC_SIZE:
        raise FrameError(f"message of {len(frame)} bytes is shorter than header and CRC")
    opcode, transaction_id, length = frame[0], frame[1], frame[2]
    if len(frame) != HEADER_SIZE + length + CRC_SIZE:
        raise FrameError(
            f"message 0x{opcode:02x} says {length} cargo bytes but carries "
            f"{len(frame) - HEADER_SIZE - CRC_SIZE}"
        )
    (crc,) = struct.unpack_from("<H", frame, len(frame) - CRC_SIZE)
    expected = crc16(frame[:-CRC_SIZE])
    if crc != expected:
        raise FrameError(f"message 0x{opcode:02x} has CRC 0x{crc:04x}, computed 0x{expected:04x}")
    return Message(opcode, transaction_id, bytes(frame[HEADER_SIZE:-CRC_SIZE]))


def split(frame: bytes, transaction_id: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """Cut a whole message into BLE writes: ``remaining, transaction id, chunk``."""
    chunks = [frame[i : i + chunk_size] for i in range(0, len(frame), chunk_size)] or [b""]
    last = len(chunks) - 1
    return [bytes([last - i, transaction_id & 0xFF]) + chunk for i, chunk in enumerate(chunks)]


class Joiner:
    """Puts BLE packets back into whole messages, checking their order as it goes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._expected_remaining: int | None = None
        self._transaction_id: int | None = None

    def feed(self, packet: bytes) -> Message | None:
        """Take one notification; return the message it completes, if it completes one."""
        if len(packet) < 2:
            self._reset()
            raise FrameError(f"BLE packet of {len(packet)} bytes has no header")
        remaining, transaction_id = packet[0], packet[1]
        if self._expected_remaining is None:
            self._transaction_id = transaction_id
        elif transaction_id != self._transaction_id or remaining != self._expected_remaining:
            expected = (self._expected_remaining, self._transaction_id)
            self._reset()
            raise FrameError(
                f"BLE packet (remaining {remaining}, transaction {transaction_id}) out of order: "
                f"expected remaining {expected[0]} of transaction {expected[1]}"
            )
        self._parts.append(packet[2:])
        if remaining == 0:
            frame = b"".join(self._parts)
            self._reset()
            message = decode(frame)
            if message.transaction_id != transaction_id:
                raise FrameError(
                    f"message transaction id {message.transaction_id} differs from its "
                    f"packets' {transaction_id}"
                )
            return message
        self._expected_remaining = remaining - 1
        return None

    @property
    def pending(self) -> bool:
        """True while a message is half received."""
        return self._expected_remaining is not None

    def _reset(self) -> None:
        self._parts = []
        self._expected_remaining = None
        self._transaction_id = None


def packets(message: Message, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """A message framed and cut into BLE writes."""
    return split(encode(message), message.transaction_id, chunk_size)
