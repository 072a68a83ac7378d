"""A small LZO1X compressor, device side (the emulated MiniMed pump compresses its history
sessions as a real one may: docs/protocols/minimed600.md).

Written from the public description of the LZO1X stream (the Linux kernel's
Documentation/staging/lzo.rst); independent of the uploader's decompressor. A greedy matcher:
a hash of the last position of every 3-byte sequence, the longest extension of that one
candidate, else a literal. It writes:

- literal runs: the first-byte form (``17 + n``, n <= 238) at the start, else, after a match
  that left no trailing literals, ``0000LLLL`` (``L + 3``; ``L = 0``: ``18 + 255 z + n``);
  1 to 3 literals after a match go in that match's two low ``SS`` bits instead;
- matches of 3 bytes or more: M2 (``LLLDDDSS H``, up to 8 bytes within 2048), M3
  (``001LLLLL [ext] DDDDDDSS H``, within 16384), M4 (``0001HLLL [ext] DDDDDDSS H``, within
  49151); never M1, so a byte below 16 is only ever a literal run;
- the end marker ``11 00 00``.

The output is valid LZO1X: any conforming decompressor (``lzo1x_decompress_safe``) reads it.
"""

from __future__ import annotations

END_OF_STREAM = bytes([0x11, 0x00, 0x00])
MIN_MATCH = 3
MAX_MATCH = 264
M2_MAX_LENGTH, M2_MAX_DISTANCE = 8, 0x0800
M3_MAX_DISTANCE = 0x4000
M4_MAX_DISTANCE = 0xBFFF
FIRST_LITERALS_MAX = 255 - 17


def _long_length(out: bytearray, rest: int) -> None:
    """``rest`` (>= 1) as 255 per zero byte and a last non-zero byte."""
    while rest > 255:
        out.append(0)
        rest -= 255
    out.append(rest)


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()
        self.trailing_at: int | None = None
        """Where the last match keeps its SS bits (None: nothing written yet)."""

    def literals(self, data: bytes) -> None:
        count = len(data)
        if count == 0:
            return
        if self.trailing_at is None:
            if count <= FIRST_LITERALS_MAX:
                self.out.append(17 + count)
            else:
                self._run(count)
        elif count <= 3:
            self.out[self.trailing_at] |= count
        else:
            self._run(count)
        self.out += data

    def _run(self, count: int) -> None:
        if count <= 18:
            self.out.append(count - 3)
        else:
            self.out.append(0)
            _long_length(self.out, count - 18)

    def match(self, distance: int, length: int) -> None:
        out = self.out
        if distance <= M2_MAX_DISTANCE and length <= M2_MAX_LENGTH:
            d = distance - 1
            self.trailing_at = len(out)
            out += bytes([((length - 1) << 5) | ((d & 7) << 2), d >> 3])
            return
        if distance <= M3_MAX_DISTANCE:
            d = distance - 1
            if length <= 33:
                out.append(32 | (length - 2))
            else:
                out.append(32)
                _long_length(out, length - 33)
        else:
            d = distance - M3_MAX_DISTANCE
            high = (d >> 14) & 1
            if length <= 9:
                out.append(16 | (high << 3) | (length - 2))
            else:
                out.append(16 | (high << 3))
                _long_length(out, length - 9)
            d &= 0x3FFF
        self.trailing_at = len(out)
        out += bytes([(d & 63) << 2, d >> 6])


def compress(data: bytes) -> bytes:
    """``data`` as an LZO1X stream (ending in the end marker)."""
    w = _Writer()
    table: dict[bytes, int] = {}
    size = len(data)
    literal_start = 0
    i = 0
    while i + MIN_MATCH <= size:
        key = data[i : i + MIN_MATCH]
        candidate = table.get(key)
        table[key] = i
        if candidate is None or i - candidate > M4_MAX_DISTANCE:
            i += 1
            continue
        length = MIN_MATCH
        limit = min(size - i, MAX_MATCH)
        while length < limit and data[candidate + length] == data[i + length]:
            length += 1
        w.literals(data[literal_start:i])
        w.match(i - candidate, length)
        for j in range(i + 1, min(i + length, size - MIN_MATCH + 1)):
            table[data[j : j + MIN_MATCH]] = j
        i += length
        literal_start = i
    w.literals(data[literal_start:])
    return bytes(w.out) + END_OF_STREAM
