"""IEEE 11073-20601 SFLOAT: the 16-bit medical float of the Bluetooth health services.

Specification: IEEE 11073-20601 (as referenced by the GLS and CGMS characteristic
definitions). 16 bits, little-endian on the air: a signed 4-bit exponent in the high nibble
and a signed 12-bit mantissa below it; value = mantissa * 10**exponent. Mantissas
0x07FF, 0x0800, 0x07FE, 0x0802 (exponent 0) are NaN, NRes, +INFINITY and -INFINITY, and
0x0801 is reserved, so an ordinary mantissa lies in -2045..2045.

Only the device side lives here: encoding. A device knows the resolution of what it sends,
so callers pick the exponent (kg/L readings use -5, mol/L -4, trends -1, percentages 0).
"""

from __future__ import annotations

import struct

MANTISSA_MAX = 2045
MANTISSA_MIN = -2045
EXPONENT_MAX = 7
EXPONENT_MIN = -8

NAN = 0x07FF
NRES = 0x0800
POSITIVE_INFINITY = 0x07FE
NEGATIVE_INFINITY = 0x0802
RESERVED = 0x0801


def sfloat(mantissa: int, exponent: int) -> bytes:
    """The two bytes of ``mantissa * 10**exponent``; raises ValueError when out of range."""
    if not MANTISSA_MIN <= mantissa <= MANTISSA_MAX:
        raise ValueError(f"SFLOAT mantissa {mantissa} outside {MANTISSA_MIN}..{MANTISSA_MAX}")
    if not EXPONENT_MIN <= exponent <= EXPONENT_MAX:
        raise ValueError(f"SFLOAT exponent {exponent} outside {EXPONENT_MIN}..{EXPONENT_MAX}")
    return struct.pack("<H", ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF))


def sfloat_of(value: float, exponent: int) -> bytes:
    """``value`` rounded to a multiple of ``10**exponent``; beyond the range, +/-INFINITY."""
    mantissa = round(value / 10.0**exponent)
    if mantissa > MANTISSA_MAX:
        return special(POSITIVE_INFINITY)
    if mantissa < MANTISSA_MIN:
        return special(NEGATIVE_INFINITY)
    return sfloat(mantissa, exponent)


def special(code: int) -> bytes:
    """One of the reserved special values (NAN, NRES, +/-INFINITY, RESERVED), exponent 0."""
    if code not in (NAN, NRES, POSITIVE_INFINITY, NEGATIVE_INFINITY, RESERVED):
        raise ValueError(f"0x{code:04X} is not an SFLOAT special value")
    return struct.pack("<H", code)
