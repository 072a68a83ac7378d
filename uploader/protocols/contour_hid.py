"""Contour USB HID framing, host side: messages in and out of 64-byte reports.

Specification: ../shared/specs/contour-usb.md. Host OUT reports: three bytes the meter
ignores (``ABC`` by convention), a length byte, the payload, zero padding to 64. Meter IN
reports: ``ABC``, a length (0..60), the payload; a full 60-byte payload means the message
continues in the next report.
"""

from __future__ import annotations

from typing import Protocol

from uploader.errors import ProtocolError

REPORT_SIZE = 64
PAYLOAD_SIZE = 60
MAX_MESSAGE = 64 * 1024
"""A frame is at most a few hundred bytes; anything far longer is a runaway device."""


class PacketLink(Protocol):
    def write(self, data: bytes, timeout_ms: int) -> None: ...
    def read(self, timeout_ms: int) -> bytes: ...


class ContourHidLink:
    """Send and receive whole messages over a packet link (a ``UsbTransport``)."""

    def __init__(self, packets: PacketLink, timeout_ms: int = 5000) -> None:
        self.packets = packets
        self.timeout_ms = timeout_ms

    def send(self, payload: bytes) -> None:
        for start in range(0, max(len(payload), 1), PAYLOAD_SIZE):
            chunk = payload[start : start + PAYLOAD_SIZE]
            report = (b"ABC" + bytes([len(chunk)]) + chunk).ljust(REPORT_SIZE, b"\x00")
            self.packets.write(report, self.timeout_ms)

    def receive(self, timeout_ms: int | None = None) -> bytes:
        """One message: report payloads joined until a report shorter than 60 bytes."""
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        message = bytearray()
        while True:
            report = self.packets.read(timeout)
            if len(report) < 4:
                raise ProtocolError(
                    f"The meter sent a {len(report)}-byte report; 4 or more were expected."
                )
            length = report[3]
            if length > PAYLOAD_SIZE or 4 + length > len(report):
                raise ProtocolError(
                    f"The meter sent a report that claims {length} bytes of payload."
                )
            message += report[4 : 4 + length]
            if length < PAYLOAD_SIZE:
                return bytes(message)
            if len(message) > MAX_MESSAGE:
                raise ProtocolError("The meter sent a message that never ends (over 64 KiB).")
