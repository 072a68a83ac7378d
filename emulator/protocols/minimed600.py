"""MiniMed 600-series through a Contour Next Link 2.4, device side: the codecs.

Specification: ../shared/specs/tidepool-uploader/lib/drivers/medtronic600/docs/packetStructure.md
(MiniMed message, Open Connection, Read Info, Link Key, NGP message, Join Network, Transmit
Packet, the pump commands) and public protocol descriptions (facts only). Every value public
sources leave open is in ``emulator.protocols.minimed600_constants`` (and
docs/protocols/minimed600.md).

Layers, outermost first: HID reports (``emulator.protocols.contour_hid``) carry MiniMed
messages (checksum: byte sum); a SEND_MESSAGE / RECEIVE_MESSAGE carries an NGP message (CRC-16
CCITT, little-endian); a Transmit Packet carries a ComD message encrypted with AES-128-CFB
(key: the link key; IV: the key with byte 0 replaced by the radio channel); a ComD message is
sequence, command (big-endian), parameters and its own CRC (big-endian).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from emulator.protocols import e2e_crc
from emulator.protocols import minimed600_constants as c

crc16 = e2e_crc.crc16
"""CRC-16/CCITT-FALSE (NGP and ComD messages), the same CRC as the BLE E2E-CRC."""


class MessageError(ValueError):
    """A message the link or pump cannot parse (wrong header, checksum, CRC or size)."""


# ---- identity and keys --------------------------------------------------------------------


def hmac_for(model_and_serial: str) -> bytes:
    """The 32 bytes a host must present in Open Connection for this link."""
    digits = model_and_serial.split("-", 1)[-1]
    return hashlib.sha256(digits.encode("ascii") + c.HMAC_PADDING).digest()[::-1]


def pack_link_key(key: bytes, model_and_serial: str) -> bytes:
    """The 55-byte packed link key the link hands out (packing: the emulator's choice)."""
    if len(key) != c.LINK_KEY_SIZE:
        raise ValueError(f"a link key has {c.LINK_KEY_SIZE} bytes, got {len(key)}")
    out = bytearray(
        (i * c.PACKED_KEY_FILLER_MULTIPLIER + c.PACKED_KEY_FILLER_ADD) & 0xFF
        for i in range(c.PACKED_LINK_KEY_SIZE)
    )
    pos = ord(model_and_serial[-1]) & 7
    for index, byte in enumerate(key):
        invert = c.packed_key_invert(index)
        step = c.packed_key_step(index)
        out[pos] = (~byte & 0xFF) if invert else byte
        out[pos + 1] = (out[pos + 1] & 0xFC) | (1 if invert else 0) | (2 if step == 2 else 0)
        pos += step
    return bytes(out)


def iv_for(key: bytes, channel: int) -> bytes:
    return bytes([channel]) + key[1:]


def encrypt(key: bytes, channel: int, plain: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), CFB(iv_for(key, channel))).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


def decrypt(key: bytes, channel: int, cipher: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), CFB(iv_for(key, channel))).decryptor()
    return decryptor.update(cipher) + decryptor.finalize()


# ---- MiniMed messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class MinimedMessage:
    operation: int
    sequence: int
    payload: bytes


def encode_minimed(operation: int, sequence: int, payload: bytes = b"") -> bytes:
    head = (
        bytes([c.MINIMED_HEADER, c.DEVICE_TYPE_NGP])
        + c.MINIMED_SERIAL
        + bytes(10)
        + bytes([operation])
        + struct.pack("<I", sequence)
        + bytes(5)
        + struct.pack("<H", len(payload))
        + bytes(2)
    )
    return head + bytes([(sum(head) + sum(payload)) & 0xFF]) + payload


def minimed_complete(data: bytes) -> bool:
    """Whether ``data`` holds at least one whole MiniMed message."""
    if len(data) < c.MINIMED_ENVELOPE_SIZE:
        return False
    size: int = struct.unpack_from("<H", data, 28)[0]
    return len(data) >= c.MINIMED_ENVELOPE_SIZE + size


def decode_minimed(data: bytes) -> MinimedMessage:
    if len(data) < c.MINIMED_ENVELOPE_SIZE or data[0] != c.MINIMED_HEADER:
        raise MessageError("not a MiniMed message")
    size = struct.unpack_from("<H", data, 28)[0]
    message = data[: c.MINIMED_ENVELOPE_SIZE + size]
    if len(message) != c.MINIMED_ENVELOPE_SIZE + size:
        raise MessageError("MiniMed message shorter than its payload size")
    if (sum(message) - message[32]) & 0xFF != message[32]:
        raise MessageError("MiniMed message checksum mismatch")
    return MinimedMessage(
        operation=message[18],
        sequence=struct.unpack_from("<I", message, 19)[0],
        payload=message[c.MINIMED_ENVELOPE_SIZE :],
    )


def read_info_payload(cnl_mac: int, pump_mac: int, link_counter: int, mode_flags: int) -> bytes:
    return (
        struct.pack(">QQ", cnl_mac, pump_mac)
        + struct.pack("<H", link_counter)
        + bytes([mode_flags])
    )


# ---- NGP messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NgpMessage:
    command: int
    payload: bytes


def encode_ngp(command: int, payload: bytes, *, corrupt_crc: bool = False) -> bytes:
    body = bytes([command, len(payload) + 2]) + payload
    crc = crc16(body) ^ (0x0001 if corrupt_crc else 0)
    return body + struct.pack("<H", crc)


def decode_ngp(data: bytes) -> NgpMessage:
    if len(data) < 4 or data[1] < 2 or len(data) < data[1] + 2:
        raise MessageError("NGP message too short")
    end = data[1] + 2
    body, crc = data[: end - 2], struct.unpack_from("<H", data, end - 2)[0]
    if crc16(body) != crc:
        raise MessageError("NGP message CRC mismatch")
    return NgpMessage(command=data[0], payload=body[2:])


def join_network_joined(
    pump_serial_number: int, pump_mac: int, cnl_mac: int, channel: int
) -> bytes:
    """The 42-byte Join Network Response payload of a joined network."""
    return (
        bytes([0x00, 0x04])
        + pump_serial_number.to_bytes(5, "little")
        + bytes([0x02])
        + struct.pack("<Q", pump_mac)
        + bytes([c.JOINED_COORDINATOR])
        + bytes(5)
        + bytes([0x07, 0x00, 0x28])
        + struct.pack("<Q", cnl_mac)
        + bytes([c.JOINED_END_NODE])
        + bytes(7)
        + bytes([channel])
    )


@dataclass(frozen=True)
class JoinRequest:
    sequence: int
    channel: int
    cnl_mac: int
    pump_mac: int


def decode_join_request(payload: bytes) -> JoinRequest:
    if len(payload) < 26:
        raise MessageError("Join Network Request shorter than 26 bytes")
    cnl_mac, pump_mac = struct.unpack_from("<QQ", payload, 10)
    return JoinRequest(payload[0], payload[1], cnl_mac, pump_mac)


@dataclass(frozen=True)
class TransmitRequest:
    pump_mac: int
    sequence: int
    mode_flags: int
    encrypted: bytes


def decode_transmit_request(payload: bytes) -> TransmitRequest:
    if len(payload) < 11 or len(payload) < 11 + payload[10]:
        raise MessageError("Transmit Packet Request shorter than its size")
    return TransmitRequest(
        pump_mac=struct.unpack_from("<Q", payload, 0)[0],
        sequence=payload[8],
        mode_flags=payload[9],
        encrypted=payload[11 : 11 + payload[10]],
    )


def transmit_response(pump_mac: int, cnl_mac: int, sequence: int, encrypted: bytes) -> bytes:
    """The NGP COMMAND_RESPONSE payload carrying a pump answer."""
    return (
        c.TRANSMIT_RESPONSE_PREFIX
        + struct.pack("<QQ", pump_mac, cnl_mac)
        + bytes([sequence & 0xFF])
        + c.TRANSMIT_RESPONSE_UNKNOWN
        + bytes([len(encrypted)])
        + encrypted
    )


def send_ack(ngp_command: int) -> bytes:
    """The link's 0x81 acknowledgement of a SEND_MESSAGE (an NGP message)."""
    return encode_ngp(c.NGP_COMMAND_RESPONSE, bytes([c.SEND_ACK_STATUS, ngp_command]))


# ---- ComD (pump) messages -------------------------------------------------------------------


@dataclass(frozen=True)
class ComdMessage:
    sequence: int
    command: int
    parameters: bytes


def encode_comd(sequence: int, command: int, parameters: bytes = b"") -> bytes:
    body = bytes([sequence & 0xFF]) + struct.pack(">H", command) + parameters
    return body + struct.pack(">H", crc16(body))


def decode_comd(plain: bytes) -> ComdMessage:
    if len(plain) < 5:
        raise MessageError("ComD message shorter than 5 bytes")
    if crc16(plain[:-2]) != struct.unpack(">H", plain[-2:])[0]:
        raise MessageError("ComD message CRC mismatch")
    return ComdMessage(plain[0], struct.unpack_from(">H", plain, 1)[0], plain[3:-2])


def with_inner_crc(items: bytes) -> bytes:
    """Bolus Wizard answers: a CCITT of the items (count included) before them."""
    return struct.pack(">H", crc16(items)) + items
