"""E2E-CRC of the Bluetooth CGM and Insulin Delivery services, collector side.

The services protect values with "a CRC-CCITT generator polynomial g(D)=D16+D12+D5+1 with a
seed of 0xFFFF", sent little-endian after the protected bytes. Parameter set used here:
polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR (CRC-16/CCITT-FALSE,
check value 0x29B1). The bit order is an interpretation; tests/vectors/ble/e2e_crc.json
pins it, and a real sensor capture should confirm it. The same CRC frames the t:slim X2's
messages (``uploader.protocols.tandem``) and the Contour Next Link's NGP messages
(``uploader.protocols.ngp``).
"""

from __future__ import annotations


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def split_checked(value: bytes) -> tuple[bytes, bool]:
    """``value`` without its trailing CRC, and whether the CRC matched."""
    if len(value) < 2:
        return value, False
    body, sent = value[:-2], int.from_bytes(value[-2:], "little")
    return body, crc16(body) == sent


def append_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")
