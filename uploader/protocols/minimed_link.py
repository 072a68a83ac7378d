"""MiniMed messages between the host and a Contour Next Link 2.4, host side.

Specification: ../shared/specs/tidepool-uploader/lib/drivers/medtronic600/docs/
packetStructure.md ("MiniMed Message", Open Connection, Read Info, Link Key). A MiniMed
message is a 33-byte header (``0x51``, device type, pump serial ``'000000'``, 10 zero bytes,
operation, sequence UInt32LE, 5 zero bytes, payload size UInt16LE, 2 zero bytes, checksum =
sum of every other byte of the message modulo 256) and a payload. It travels in the link's
64-byte HID reports (``uploader.protocols.contour_hid``).

The two "proprietary algorithms" the document names are taken from public descriptions of
the protocol and kept here, in one place, so a real capture can correct them:

- Open Connection HMAC: SHA-256 of the link's serial digits (the part after the dash of the
  ``NNNN-NNNNNNN`` serial in its ASTM header) followed by the ASCII text
  ``A4BD6CED9A42602564F413123``, bytes in reverse order.
- AES key from the 55-byte link key: 16 bytes picked from it, starting at index (last
  character of the serial digits & 7); at each step the byte at ``pos`` is taken (inverted
  when bit 0 of the byte at ``pos + 1`` is set) and ``pos`` advances by 2 when bit 1 of that
  next byte is set, by 3 otherwise.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from uploader.errors import ProtocolError
from uploader.protocols.minimed_errors import MessageCorrupted

HEADER = 0x51
DEVICE_TYPE_NGP = 0x03
HEADER_SIZE = 33

OPEN_CONNECTION = 0x10
CLOSE_CONNECTION = 0x11
SEND_MESSAGE = 0x12
READ_INFO = 0x14
REQUEST_LINK_KEY = 0x16
SEND_LINK_KEY = 0x17
RECEIVE_MESSAGE = 0x80
SEND_MESSAGE_RESPONSE = 0x81
REQUEST_LINK_KEY_RESPONSE = 0x86

OPERATION_NAMES = {
    OPEN_CONNECTION: "OPEN_CONNECTION",
    CLOSE_CONNECTION: "CLOSE_CONNECTION",
    SEND_MESSAGE: "SEND_MESSAGE",
    READ_INFO: "READ_INFO",
    REQUEST_LINK_KEY: "REQUEST_LINK_KEY",
    SEND_LINK_KEY: "SEND_LINK_KEY",
    RECEIVE_MESSAGE: "RECEIVE_MESSAGE",
    SEND_MESSAGE_RESPONSE: "SEND_MESSAGE_RESPONSE",
    REQUEST_LINK_KEY_RESPONSE: "REQUEST_LINK_KEY_RESPONSE",
}

LINK_KEY_SIZE = 55
HMAC_PADDING = b"A4BD6CED9A42602564F413123"


@dataclass(frozen=True)
class MiniMedMessage:
    operation: int
    sequence: int
    payload: bytes


def _checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode_message(operation: int, sequence: int, payload: bytes = b"") -> bytes:
    """One MiniMed message, checksum included."""
    header = (
        bytes([HEADER, DEVICE_TYPE_NGP])
        + b"000000"
        + bytes(10)
        + struct.pack("<BI", operation, sequence & 0xFFFFFFFF)
        + bytes(5)
        + struct.pack("<H", len(payload))
        + bytes(2)
    )
    return header + bytes([_checksum(header + payload)]) + payload


def decode_message(data: bytes) -> MiniMedMessage:
    """Validate and decode a MiniMed message (raises ``MessageCorrupted`` on a bad checksum)."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError(
            f"The Contour Next Link sent a {len(data)}-byte message; a MiniMed message has "
            f"at least {HEADER_SIZE}."
        )
    if data[0] != HEADER:
        raise ProtocolError(
            f"The Contour Next Link sent a message starting 0x{data[0]:02x}, not 0x51."
        )
    operation, sequence = struct.unpack_from("<BI", data, 18)
    (size,) = struct.unpack_from("<H", data, 28)
    if len(data) < HEADER_SIZE + size:
        raise ProtocolError(
            f"The Contour Next Link's message announces {size} bytes of payload but carries "
            f"{len(data) - HEADER_SIZE}."
        )
    payload = data[HEADER_SIZE : HEADER_SIZE + size]
    expected = _checksum(data[: HEADER_SIZE - 1] + payload)
    if data[HEADER_SIZE - 1] != expected:
        raise MessageCorrupted(
            f"A message from the Contour Next Link failed its checksum "
            f"(0x{data[HEADER_SIZE - 1]:02x}, computed 0x{expected:02x})."
        )
    return MiniMedMessage(operation, sequence, payload)


def serial_digits(link_serial: str) -> str:
    """``'1026111'`` from the link's ``'6213-1026111'`` (the part the HMAC and key use)."""
    match = re.fullmatch(r"(?:\d+-)?(\d+)", link_serial.strip())
    if match is None:
        raise ProtocolError(
            f"The Contour Next Link reports a serial number {link_serial!r}, not the "
            "NNNN-NNNNNNN form a Contour Next Link 2.4 has."
        )
    return match.group(1)


def open_connection_hmac(link_serial: str) -> bytes:
    digest = hashlib.sha256(serial_digits(link_serial).encode("ascii") + HMAC_PADDING).digest()
    return digest[::-1]


def aes_key(link_key: bytes, link_serial: str) -> bytes:
    """The 16-byte AES-128 key of NGP payloads, from the 55-byte link key."""
    if len(link_key) != LINK_KEY_SIZE:
        raise ProtocolError(
            f"The Contour Next Link sent a {len(link_key)}-byte link key; "
            f"{LINK_KEY_SIZE} were expected."
        )
    pos = ord(serial_digits(link_serial)[-1]) & 7
    key = bytearray()
    for _ in range(16):
        flags = link_key[pos + 1]
        key.append(~link_key[pos] & 0xFF if flags & 1 else link_key[pos])
        pos += 2 if flags & 2 else 3
    return bytes(key)


@dataclass(frozen=True)
class LinkInfo:
    """The Read Info response: who is paired with whom."""

    link_mac: int
    pump_mac: int
    link_counter: int
    mode_flags: int

    @property
    def encrypted(self) -> bool:
        return bool(self.mode_flags & 1)


def parse_read_info(payload: bytes) -> LinkInfo:
    if len(payload) < 19:
        raise ProtocolError(
            f"The Contour Next Link's Read Info answer has {len(payload)} bytes; 19 were "
            "expected (is it paired with a pump?)."
        )
    link_mac, pump_mac = struct.unpack_from(">QQ", payload)
    (counter,) = struct.unpack_from("<H", payload, 16)
    return LinkInfo(link_mac, pump_mac, counter, payload[18])
