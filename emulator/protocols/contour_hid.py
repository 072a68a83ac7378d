"""Contour USB HID report framing, meter side.

Specification: ../shared/specs/contour-usb.md. The meter sends 64-byte IN reports:
``'ABC'``, a payload length (0..60), then the payload padded to 60 bytes. A payload of
exactly 60 bytes means the message continues in the next report, so a message whose length
is a multiple of 60 ends with an empty report. The host's OUT reports carry three bytes the
meter ignores, a length byte and the payload, zero-padded to 64.
"""

from __future__ import annotations

REPORT_SIZE = 64
PAYLOAD_SIZE = 60
IN_PREFIX = b"ABC"


def encode_in_reports(message: bytes) -> list[bytes]:
    """Split one meter message into IN reports."""
    chunks = [message[i : i + PAYLOAD_SIZE] for i in range(0, len(message), PAYLOAD_SIZE)]
    if not chunks or len(chunks[-1]) == PAYLOAD_SIZE:
        chunks.append(b"")
    return [(IN_PREFIX + bytes([len(c)]) + c).ljust(REPORT_SIZE, b"\x00") for c in chunks]


def decode_out_report(report: bytes) -> bytes:
    """The payload of one host OUT report (a length beyond the report is clamped)."""
    if len(report) < 4:
        return b""
    length = min(report[3], PAYLOAD_SIZE, len(report) - 4)
    return report[4 : 4 + length]
