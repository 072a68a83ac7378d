"""NGP messages (the Contour Next Link's radio commands) and the pump's encrypted frames, host side.

Specification: ../shared/specs/tidepool-uploader/lib/drivers/medtronic600/docs/
packetStructure.md ("NGP Message", Join Network, Transmit Packet, High Speed Mode and the
pump commands).

- NGP message: command, size (payload + CRC), payload, CRC-16/CCITT (polynomial 0x1021,
  initial value 0xFFFF) of command, size and payload, little-endian.
- Join Network request/response: the channel the pump's network was joined on (a 9-byte
  answer means "not joined").
- Transmit Packet: pump MAC (UInt64LE), sequence, mode flags (0x01 encrypted, 0x10 high
  speed), size, AES-128-CFB payload; the key comes from the link key
  (``uploader.protocols.minimed_link.aes_key``), the IV is the key with its first byte
  replaced by the radio channel.
- Pump frame (the decrypted payload): sequence, command UInt16BE, parameters, CRC-16/CCITT
  of all that, big-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from uploader.errors import ProtocolError
from uploader.protocols import e2e_crc
from uploader.protocols.minimed_errors import MessageCorrupted, WrongLinkKey

INITIALIZE = 0x01
SCAN_NETWORK = 0x02
JOIN_NETWORK = 0x03
LEAVE_NETWORK = 0x04
TRANSMIT_PACKET = 0x05
READ_DATA = 0x06
READ_STATUS = 0x07
READ_NETWORK_STATUS = 0x08
SET_SECURITY_MODE = 0x0C
READ_STATISTICS = 0x0D
SET_RF_MODE = 0x0E
CLEAR_STATUS = 0x10
SET_LINK_KEY = 0x14
COMMAND_RESPONSE = 0x55

CHANNELS = (0x14, 0x11, 0x0E, 0x17, 0x1A)
"""The radio channels a 600-series pump uses, in the order public drivers (and CareLink)
try them: 20, 17, 14, 23, 26."""

MODE_ENCRYPTED = 0x01
MODE_HIGH_SPEED = 0x10
JOIN_SEQUENCE = 1
HIGH_SPEED_SEQUENCE = 0x80
JOINED_SIZE = 42
NOT_JOINED_SIZE = 9


crc16_ccitt = e2e_crc.crc16
"""CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF): the same CRC as the Bluetooth
services' E2E-CRC."""


@dataclass(frozen=True)
class NgpMessage:
    command: int
    payload: bytes


def encode_ngp(command: int, payload: bytes) -> bytes:
    body = bytes([command, len(payload) + 2]) + payload
    return body + struct.pack("<H", crc16_ccitt(body))


def decode_ngp(data: bytes) -> NgpMessage:
    if len(data) < 4:
        raise ProtocolError(f"The Contour Next Link sent a {len(data)}-byte NGP message.")
    size = data[1]
    if size < 2 or len(data) < size + 2:
        raise ProtocolError(
            f"The Contour Next Link's NGP message announces {size} bytes but carries "
            f"{len(data) - 2}."
        )
    body, (crc,) = data[:size], struct.unpack_from("<H", data, size)
    if crc16_ccitt(body) != crc:
        raise MessageCorrupted(
            f"A radio message from the Contour Next Link failed its CRC (0x{crc:04x}, "
            f"computed 0x{crc16_ccitt(body):04x})."
        )
    return NgpMessage(data[0], data[2:size])


def join_network_request(channel: int, link_mac: int, pump_mac: int) -> bytes:
    payload = (
        bytes([JOIN_SEQUENCE, channel])
        + bytes(3)
        + b"\x07\x07"
        + bytes(2)
        + b"\x02"
        + struct.pack("<QQ", link_mac, pump_mac)
    )
    return encode_ngp(JOIN_NETWORK, payload)


@dataclass(frozen=True)
class JoinResult:
    joined: bool
    channel: int | None = None
    pump_serial: int | None = None


def parse_join_response(payload: bytes, link_mac: int, pump_mac: int) -> JoinResult:
    if len(payload) == NOT_JOINED_SIZE:
        return JoinResult(False)
    if len(payload) < JOINED_SIZE:
        raise ProtocolError(
            f"The Contour Next Link answered Join Network with {len(payload)} bytes "
            f"({NOT_JOINED_SIZE} or {JOINED_SIZE} were expected)."
        )
    serial = int.from_bytes(payload[2:7], "little")
    (answered_pump,) = struct.unpack_from("<Q", payload, 8)
    (answered_link,) = struct.unpack_from("<Q", payload, 25)
    if payload[16] != 0x82 or payload[33] != 0x42:
        return JoinResult(False)
    if answered_pump != pump_mac or answered_link != link_mac:
        raise ProtocolError(
            f"The network joined is between {answered_link:016x} and {answered_pump:016x}, "
            f"not this link ({link_mac:016x}) and its pump ({pump_mac:016x})."
        )
    return JoinResult(True, payload[41], serial)


def _cipher(key: bytes, channel: int) -> Cipher[CFB]:
    iv = bytes([channel]) + key[1:]
    return Cipher(algorithms.AES(key), CFB(iv))


def encrypt(key: bytes, channel: int, plaintext: bytes) -> bytes:
    encryptor = _cipher(key, channel).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize()


def decrypt(key: bytes, channel: int, ciphertext: bytes) -> bytes:
    decryptor = _cipher(key, channel).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def transmit_request(
    pump_mac: int, sequence: int, mode: int, key: bytes, channel: int, frame: bytes
) -> bytes:
    """The NGP Transmit Packet request that carries one (plain) pump frame."""
    secret = encrypt(key, channel, frame)
    payload = struct.pack("<QBBB", pump_mac, sequence, mode, len(secret)) + secret
    return encode_ngp(TRANSMIT_PACKET, payload)


@dataclass(frozen=True)
class TransmitResponse:
    pump_mac: int
    link_mac: int
    sequence: int
    encrypted: bytes


def parse_transmit_response(payload: bytes) -> TransmitResponse:
    if len(payload) < 22:
        raise ProtocolError(
            f"The pump's answer carried {len(payload)} bytes; a Transmit Packet response "
            "has at least 22."
        )
    pump_mac, link_mac, sequence = struct.unpack_from("<QQB", payload, 2)
    size = payload[21]
    if len(payload) < 22 + size:
        raise ProtocolError(
            f"The pump's answer announces {size} encrypted bytes but carries {len(payload) - 22}."
        )
    return TransmitResponse(pump_mac, link_mac, sequence, payload[22 : 22 + size])


@dataclass(frozen=True)
class PumpFrame:
    sequence: int
    command: int
    parameters: bytes


def encode_frame(sequence: int, command: int, parameters: bytes = b"") -> bytes:
    body = struct.pack(">BH", sequence, command) + parameters
    return body + struct.pack(">H", crc16_ccitt(body))


def decode_frame(plain: bytes) -> PumpFrame:
    """A decrypted pump frame; a CRC that does not match means the key was wrong."""
    if len(plain) < 5 or crc16_ccitt(plain[:-2]) != struct.unpack(">H", plain[-2:])[0]:
        raise WrongLinkKey(
            "The pump's answer arrived intact but does not decrypt with the Contour Next "
            "Link's link key."
        )
    sequence, command = struct.unpack_from(">BH", plain)
    return PumpFrame(sequence, command, plain[3:-2])
