"""IEEE 11073-20601 SFLOAT, the 16-bit medical float of the Bluetooth health services.

A 4-bit signed exponent (high nibble) and a 12-bit signed mantissa, little-endian; the value
is mantissa x 10^exponent. Five mantissas are reserved: NaN (0x7FF), NRes (0x800, not at
this resolution), +INFINITY (0x7FE), -INFINITY (0x802) and a reserved code (0x801).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Special(enum.Enum):
    NAN = "NaN"
    NRES = "NRes"
    POSITIVE_INFINITY = "+INFINITY"
    NEGATIVE_INFINITY = "-INFINITY"
    RESERVED = "reserved"


_SPECIAL = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}


@dataclass(frozen=True)
class SFloat:
    mantissa: int
    exponent: int
    special: Special | None = None

    @property
    def value(self) -> float | None:
        """The number, or None for the special codes (which carry no value)."""
        if self.special is not None:
            return None
        if self.exponent >= 0:
            return float(self.mantissa * 10**self.exponent)
        return float(self.mantissa) / float(10 ** (-self.exponent))


def decode_sfloat(raw: bytes, offset: int = 0) -> SFloat:
    """The SFLOAT at ``raw[offset:offset + 2]``."""
    if len(raw) < offset + 2:
        raise ValueError("an SFLOAT needs 2 bytes")
    word = int.from_bytes(raw[offset : offset + 2], "little")
    if word in _SPECIAL:
        return SFloat(0, 0, _SPECIAL[word])
    mantissa = word & 0x0FFF
    if mantissa >= 0x800:
        mantissa -= 0x1000
    exponent = word >> 12
    if exponent >= 0x8:
        exponent -= 0x10
    return SFloat(mantissa, exponent)
