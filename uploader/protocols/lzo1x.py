"""LZO1X decompression, host side, written from the public description of the stream format
(the Linux kernel's Documentation/staging/lzo.rst and LZO 2.x's ``lzo1x_decompress_safe``
behaviour); no LZO library is needed (python-lzo ships no wheels).

The stream is a sequence of byte instructions; what a byte below 16 means depends on the
*state*, the number of literals the previous instruction copied:

- First byte above 17: a literal run of ``byte - 17`` bytes (state: that count, or 4 from 4 on).
- ``0000LLLL`` in state 0: a literal run of ``L + 3`` bytes (``L = 0``: ``18 + 255 z + n``
  after ``z`` zero bytes and a non-zero byte ``n``); the state becomes 4.
- ``0000DDSS HHHHHHHH`` in state 1..3 (M1): a 2-byte match at distance ``1 + D + 4 H``; in
  state 4: a 3-byte match at distance ``2049 + D + 4 H``.
- ``LLLDDDSS HHHHHHHH`` with ``LLL >= 2`` (M2): ``LLL + 1`` bytes at distance ``1 + D + 8 H``.
- ``001LLLLL [ext] DDDDDDSS HHHHHHHH`` (M3): ``L + 2`` bytes (``L = 0``: ``33 + 255 z + n``),
  distance ``1 + D + 64 H``.
- ``0001HLLL [ext] DDDDDDSS HHHHHHHH`` (M4): ``L + 2`` bytes (``L = 0``: ``9 + 255 z + n``),
  distance ``16384 + 16384 H' + D + 64 H``; a distance part of 0 ends the stream (the end
  marker is ``11 00 00``).
- After a match, ``SS`` (the low bits of the byte before the last one read) literals follow and
  become the state.

A match may overlap its own output (distance shorter than its length: the bytes repeat).
Every read and copy is bounds-checked: a malformed stream raises :class:`LzoError`, never an
``IndexError``, and the output never grows past the size the caller expects.
"""

from __future__ import annotations

from uploader.protocols.minimed_errors import MessageCorrupted

END_OF_STREAM = bytes([0x11, 0x00, 0x00])
M2_MAX_DISTANCE = 0x0800
M3_MAX_DISTANCE = 0x4000
M4_MAX_DISTANCE = 0xBFFF


class LzoError(MessageCorrupted):
    """A compressed history session does not decompress (corrupted or not LZO1X)."""


class _Stream:
    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.pos = 0
        self.size = size
        self.out = bytearray()

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise LzoError(
                f"The pump's compressed history ends early (after {len(self.data)} bytes, "
                "before its end marker)."
            )
        value = self.data[self.pos]
        self.pos += 1
        return value

    def long_length(self, base: int) -> int:
        """``base`` + 255 per zero byte + the first non-zero byte."""
        length = base
        while (value := self.byte()) == 0:
            length += 255
            if length > self.size:
                self._overflow(length)
        return length + value

    def literals(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise LzoError(
                f"The pump's compressed history announces {count} literal bytes at byte "
                f"{self.pos} of {len(self.data)}."
            )
        if len(self.out) + count > self.size:
            self._overflow(len(self.out) + count)
        self.out += self.data[self.pos : self.pos + count]
        self.pos += count

    def match(self, distance: int, length: int) -> None:
        if distance < 1 or distance > len(self.out):
            raise LzoError(
                f"The pump's compressed history refers {distance} bytes back where only "
                f"{len(self.out)} were decompressed."
            )
        if len(self.out) + length > self.size:
            self._overflow(len(self.out) + length)
        start = len(self.out) - distance
        if distance >= length:
            self.out += self.out[start : start + length]
        else:
            pattern = bytes(self.out[start:])
            self.out += (pattern * (length // distance + 1))[:length]

    def _overflow(self, size: int) -> None:
        raise LzoError(
            f"The pump's compressed history decompresses to more than the {self.size} bytes "
            f"it announced (at least {size})."
        )


def decompress(data: bytes, size: int) -> bytes:
    """The ``size`` bytes the LZO1X stream ``data`` holds; :class:`LzoError` otherwise."""
    s = _Stream(data, size)
    state = 0
    if data and data[0] > 17:
        count = s.byte() - 17
        s.literals(count)
        state = min(count, 4)
    while True:
        t = s.byte()
        if t < 16:
            if state == 0:
                s.literals(s.long_length(15) + 3 if t == 0 else t + 3)
                state = 4
                continue
            high = s.byte()
            if state == 4:
                s.match(1 + M2_MAX_DISTANCE + (t >> 2) + (high << 2), 3)
            else:
                s.match(1 + (t >> 2) + (high << 2), 2)
            trailing = t & 3
        elif t >= 64:
            high = s.byte()
            s.match(1 + ((t >> 2) & 7) + (high << 3), (t >> 5) + 1)
            trailing = t & 3
        elif t >= 32:
            length = (t & 31) + 2 if t & 31 else s.long_length(31) + 2
            low, high = s.byte(), s.byte()
            s.match(1 + (low >> 2) + (high << 6), length)
            trailing = low & 3
        else:
            length = (t & 7) + 2 if t & 7 else s.long_length(7) + 2
            low, high = s.byte(), s.byte()
            distance = ((t & 8) << 11) + (low >> 2) + (high << 6)
            if distance == 0:
                break
            s.match(M3_MAX_DISTANCE + distance, length)
            trailing = low & 3
        s.literals(trailing)
        state = trailing
    if s.pos != len(data):
        raise LzoError(
            f"The pump's compressed history has {len(data) - s.pos} bytes after its end marker."
        )
    if len(s.out) != size:
        raise LzoError(
            f"The pump's compressed history decompresses to {len(s.out)} bytes where it "
            f"announced {size}."
        )
    return bytes(s.out)
