"""The E2E-CRC of the Bluetooth CGM (and Insulin Delivery) services.

Specification: CGMS ("CRC-CCITT generator polynomial g(D) = D^16 + D^12 + D^5 + 1 with a
seed of 0xFFFF"), read as the CRC-16/CCITT-FALSE parameter set: polynomial 0x1021, initial
value 0xFFFF, no reflection, no final XOR (check value 0x29B1 for ``123456789``). The CRC
covers every byte before it and is sent little-endian at the end of the value. A device
without the E2E-CRC feature sends no CRC, except in CGM Feature, whose CRC field is then
0xFFFF. See tests/vectors/ble/e2e_crc.json. The same CRC closes Tandem messages
(``emulator.protocols.tandem``) and MiniMed NGP and ComD messages
(``emulator.protocols.minimed600``).
"""

from __future__ import annotations

import struct

SEED = 0xFFFF
POLYNOMIAL = 0x1021


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    crc = SEED
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLYNOMIAL) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def with_crc(data: bytes, *, corrupt: bool = False) -> bytes:
    """``data`` followed by its CRC (little-endian); ``corrupt`` sends a wrong one on purpose."""
    crc = crc16(data)
    if corrupt:
        crc ^= 0xFFFF
    return data + struct.pack("<H", crc)


class CrcError(ValueError):
    """A written value's E2E-CRC is missing or wrong."""

    def __init__(self, missing: bool) -> None:
        super().__init__("E2E-CRC missing" if missing else "E2E-CRC does not match")
        self.missing = missing


def strip_crc(value: bytes, *, min_payload: int = 1) -> bytes:
    """The payload of a CRC-protected written value, after checking its CRC.

    Raises ``CrcError(missing=True)`` when the value is too short to carry a CRC after
    ``min_payload`` bytes, ``CrcError(missing=False)`` when the CRC does not match."""
    if len(value) < min_payload + 2:
        raise CrcError(missing=True)
    payload, (received,) = value[:-2], struct.unpack("<H", value[-2:])
    if crc16(payload) != received:
        raise CrcError(missing=False)
    return payload
