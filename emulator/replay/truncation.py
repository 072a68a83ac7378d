"""Telling a capture file that was cut short (copied halfway, or written by a process that
was killed) from a whole one, for the libpcap format (pcap-savefile(5): a 24-byte file
header, then records of a 16-byte header whose third field is the captured length) and
btsnoop (RFC 1761: a 16-byte file header, then records of a 24-byte header whose second
field is the included length). Readers hand the last, cut record over as if it were whole;
a replay of it would answer with bytes the device never sent.
"""

from __future__ import annotations

import struct
from pathlib import Path

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAP_LITTLE_ENDIAN = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")  # microsecond, nanosecond


def _cut_short(raw: bytes, offset: int, header: int, length: str) -> int | None:
    whole = 0
    while offset < len(raw):
        if offset + header > len(raw):
            return whole
        offset += header + struct.unpack_from(length, raw, offset)[0]
        if offset > len(raw):
            return whole
        whole += 1
    return None


def pcap_cut_short(raw: bytes) -> int | None:
    """If this classic pcap file stops inside a record: how many records before it are whole."""
    order = "<" if raw[:4] in PCAP_LITTLE_ENDIAN else ">"
    return _cut_short(raw, 24, 16, f"{order}8xI") if len(raw) >= 24 else 0


def btsnoop_cut_short(raw: bytes) -> int | None:
    """If this btsnoop file stops inside a record: how many records before it are whole."""
    return _cut_short(raw, 16, 24, ">4xI") if len(raw) >= 16 else 0


def cut_short_message(path: Path, whole: int) -> str:
    """What to tell the user about ``path``, cut short after ``whole`` complete records."""
    return (
        f"{path} is cut short: it ends inside record {whole + 1}, after {whole} complete records "
        "(copied or written incompletely?). Nothing was replayed; ask for the whole file again."
    )
