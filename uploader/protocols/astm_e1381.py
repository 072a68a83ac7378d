"""ASTM E1381 low-level protocol, receiver (host) side.

Specification: ASTM E1381-02, with the Contour dialect in ../shared/specs/contour-usb.md.

- Frame: ``STX FN text ETB|ETX C1 C2 CR LF``; FN is an ASCII digit 0-7 that starts at 1 and
  wraps modulo 8; C1C2 is the sum of the bytes from FN through ETB/ETX, modulo 256, as two
  upper-case hex digits.
- Establishment: the host sends EOT; the meter answers with a message ending in ENQ, which
  the host ACKs. A NAK (the meter is busy) gets another EOT, a bounded number of times.
- Transfer: every good frame is ACKed. A bad frame (checksum, layout, sequence) gets a NAK,
  and the meter sends it again; a frame repeated with the previous frame number (the meter
  missed our ACK) is ACKed and dropped, as E1381 says. When the same frame has arrived
  damaged ``max_retries`` times the host gives up, as E1381 says a sender does. A meter
  that falls silent is not NAKed (that would put the two ends out of step): after the
  receive timeout the transfer fails with ``DeviceTimeout``.
- Termination: the meter's EOT. An EOT before the message's last frame (ETX) means the
  meter gave up. After the last frame the data is complete: a repeat of it is ACKed and
  dropped, and a missing EOT is only noted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from uploader.errors import DeviceCommunicationError, DeviceTimeout, ProtocolError

STX, ETX, EOT, ENQ, ACK = 0x02, 0x03, 0x04, 0x05, 0x06
NAK, ETB, LF, CR = 0x15, 0x17, 0x0A, 0x0D

_FRAME = re.compile(rb"\x02([0-7])([^\x02\x03\x17]*)([\x03\x17])([0-9A-F]{2})\r\n", re.DOTALL)


class MessageLink(Protocol):
    def send(self, payload: bytes) -> None: ...
    def receive(self, timeout_ms: int | None = None) -> bytes: ...


@dataclass(frozen=True)
class Frame:
    number: int
    text: str
    final: bool


class FrameError(ValueError):
    """A frame failed validation; the message says how, for logs."""


def frame_checksum(fn_through_terminator: bytes) -> str:
    return f"{sum(fn_through_terminator) % 256:02X}"


def parse_frame(message: bytes) -> Frame:
    """Validate and decode the frame in ``message`` (leading noise before STX is ignored)."""
    start = message.find(bytes([STX]))
    if start < 0:
        raise FrameError(f"no STX in {message[:16]!r}")
    match = _FRAME.fullmatch(message, start)
    if match is None:
        raise FrameError(f"malformed frame {message[start : start + 24]!r}")
    number, text, terminator, check = match.groups()
    expected = frame_checksum(number + text + terminator)
    if check.decode() != expected:
        raise FrameError(
            f"checksum {check.decode()} != computed {expected} in frame {number.decode()}"
        )
    return Frame(int(number), text.decode("latin-1"), terminator[0] == ETX)


class E1381Receiver:
    """Receives one message (the meter's records) over a ``MessageLink``."""

    def __init__(
        self, link: MessageLink, max_retries: int = 6, max_establish_attempts: int = 5
    ) -> None:
        self.link = link
        self.max_retries = max_retries
        self.max_establish_attempts = max_establish_attempts
        self.naks_sent = 0
        self.duplicates_dropped = 0
        self.notes: list[str] = []

    def drain(self, timeout_ms: int = 20, limit: int = 256) -> None:
        """Discard anything left over from an earlier, interrupted session."""
        for _ in range(limit):
            try:
                self.link.receive(timeout_ms)
            except DeviceTimeout:
                return
            except ProtocolError:
                continue

    def establish(self) -> bytes:
        """Ask the meter to send; returns its establishment message (ends with ENQ)."""
        last = b""
        for _attempt in range(self.max_establish_attempts):
            self.link.send(bytes([EOT]))
            last = self.link.receive()
            if last.endswith(bytes([ENQ])):
                self.link.send(bytes([ACK]))
                return last
        raise ProtocolError(
            f"The meter did not accept a transfer after {self.max_establish_attempts} attempts "
            f"(last answer {last[-8:]!r})."
        )

    def frames(self) -> Iterator[Frame]:
        """Every frame of the message, in order, each validated and acknowledged."""
        expected = 1  # position in the transfer, the header being 1; its frame number is % 8
        failures = 0
        while True:
            try:
                message = self.link.receive()
            except DeviceTimeout as silent:
                raise DeviceTimeout(
                    f"The meter stopped sending in the middle of its data (after record "
                    f"{expected - 1})."
                ) from silent
            if message == bytes([EOT]):
                raise DeviceCommunicationError(
                    "The meter ended the transfer before its last record (it gives up after "
                    "repeated transmission errors)."
                )
            try:
                frame = parse_frame(message)
                if expected > 1 and frame.number == (expected - 1) % 8:
                    self.duplicates_dropped += 1  # the meter missed our ACK and sent it again
                    self.link.send(bytes([ACK]))
                    continue
                if frame.number != expected % 8:
                    raise FrameError(f"frame number {frame.number}, expected {expected % 8}")
            except FrameError as problem:
                failures += 1
                if failures >= self.max_retries:
                    raise ProtocolError(
                        f"The meter kept sending damaged data: its record {expected} (the "
                        f"header being 1) arrived damaged {failures} times in a row (last: "
                        f"{problem})."
                    ) from None
                self.naks_sent += 1
                self.link.send(bytes([NAK]))
                continue
            failures = 0
            expected += 1
            self.link.send(bytes([ACK]))
            yield frame
            if frame.final:
                self._finish(frame)
                return

    def _finish(self, last: Frame, limit: int = 8) -> None:
        """Wait for the meter's EOT. The data is already complete, so nothing here fails."""
        for _ in range(limit):
            try:
                ending = self.link.receive()
            except DeviceTimeout:
                self.notes.append("The meter did not end the transfer with EOT (data complete).")
                return
            if ending == bytes([EOT]):
                return
            try:
                repeat = parse_frame(ending)
            except FrameError:
                repeat = None
            if repeat is not None and repeat.number == last.number:
                self.duplicates_dropped += 1
                self.link.send(bytes([ACK]))
                continue
            self.notes.append(f"Unexpected data after the last record: {ending[:16].hex()}.")
            return
        self.notes.append(
            "The meter kept repeating its last record instead of ending the transfer."
        )
