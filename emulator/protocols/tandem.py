"""Tandem t:slim X2 message framing, device side: header, CRC16, BLE-sized chunks.

From pumpX2's public description (Packetize.java, bluetooth/models/Packet.java,
helpers/Bytes.java): a message is opcode u8, transaction id u8, cargo length u8, the cargo and
a CRC16 (CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF) over all of that, appended low byte
first. It travels in chunks of at most 18 bytes (40 for requests on the control
characteristic), each prefixed by the number of chunks still to come and the transaction id.
Vectors: tests/vectors/tandem/framing.json.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.protocols import e2e_crc
from emulator.protocols import tandem_constants as c

crc16 = e2e_crc.crc16
"""CRC-16/CCITT-FALSE, the same CRC as the BLE E2E-CRC."""


class FramingError(ValueError):
    """A message that does not hold together; ``step`` names where it went wrong."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


@dataclass(frozen=True)
class Message:
    opcode: int
    transaction_id: int
    cargo: bytes


def encode_message(opcode: int, transaction_id: int, cargo: bytes) -> bytes:
    """Header, cargo and CRC16 of one message (a signed cargo already carries its 24 bytes)."""
    if len(cargo) > c.MAX_CARGO:
        raise FramingError("encode", f"cargo of {len(cargo)} bytes (at most {c.MAX_CARGO})")
    body = bytes([opcode & 0xFF, transaction_id & 0xFF, len(cargo)]) + cargo
    return body + crc16(body).to_bytes(2, "little")


def decode_message(data: bytes) -> Message:
    """Check the length byte and the CRC16 of a joined message."""
    if len(data) < c.HEADER_SIZE + c.CRC_SIZE:
        raise FramingError("length", f"{len(data)} bytes is shorter than a header and a CRC")
    length = data[2]
    if len(data) != c.HEADER_SIZE + length + c.CRC_SIZE:
        raise FramingError("length", f"cargo length says {length}, message carries {len(data) - 5}")
    body, crc = data[:-2], int.from_bytes(data[-2:], "little")
    if crc16(body) != crc:
        raise FramingError("crc", f"CRC16 {crc:#06x}, computed {crc16(body):#06x}")
    return Message(data[0], data[1], bytes(data[3:-2]))


def chunks(message: bytes, transaction_id: int, size: int = c.CHUNK_SIZE) -> list[bytes]:
    """The BLE writes/notifications that carry ``message``: remaining count, txid, body."""
    parts = [message[i : i + size] for i in range(0, len(message), size)] or [b""]
    last = len(parts) - 1
    return [bytes([last - i, transaction_id & 0xFF]) + part for i, part in enumerate(parts)]


class Joiner:
    """Joins the chunks of one direction of one characteristic back into messages."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._txid: int | None = None
        self._expect: int | None = None

    def feed(self, chunk: bytes) -> bytes | None:
        """The joined message when ``chunk`` completes one, else None."""
        if len(chunk) < c.CHUNK_HEADER_SIZE:
            self.reset()
            raise FramingError("chunk", f"{len(chunk)}-byte chunk has no header")
        remaining, txid = chunk[0], chunk[1]
        if self._txid is not None and (txid != self._txid or remaining != self._expect):
            self.reset()
            raise FramingError(
                "chunk", f"chunk (remaining {remaining}, txid {txid}) out of sequence"
            )
        self._parts.append(chunk[2:])
        self._txid, self._expect = txid, remaining - 1
        if remaining:
            return None
        joined = b"".join(self._parts)
        self.reset()
        return joined

    def reset(self) -> None:
        self._parts, self._txid, self._expect = [], None, None
