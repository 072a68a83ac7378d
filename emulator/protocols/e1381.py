"""ASTM E1381 low-level protocol, sender side, as a Contour meter runs it.

Specification: ASTM E1381-02 (the transfer of messages between clinical instruments),
with the Contour dialect noted in ../shared/specs/contour-usb.md and docs/protocols/contour-usb.md.

Frames are ``STX FN text ETB|ETX C1 C2 CR LF``: FN is an ASCII digit that starts at 1 and
wraps modulo 8; C1C2 is the sum of the bytes from FN through ETB/ETX, modulo 256, in two
upper-case hex digits. A Contour meter puts one record per frame, each record's text ending
in CR; it ends every frame with ETB except the last (the terminator record), which ends in ETX.

Session, meter side:

1. establishment: the host sends EOT; the meter answers EOT, the header frame, ENQ. A NAK to
   the ENQ makes the meter ask again; an EOT at any time starts over.
2. transfer: each ACK brings the next frame (the first is the header again, frame number 1).
   A NAK, or any other character (E1381 treats it as a NAK), asks for the same frame again;
   after ``MAX_RETRIES`` failed sends of one frame the meter gives up and sends EOT.
3. termination: after the ACK of the last frame the meter sends EOT and is idle again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

STX, ETX, EOT, ENQ, ACK = 0x02, 0x03, 0x04, 0x05, 0x06
NAK, ETB, LF, CR = 0x15, 0x17, 0x0A, 0x0D

MAX_RETRIES = 6
"""E1381: a sender gives up after six unsuccessful attempts to send one frame."""


def checksum(fn_through_terminator: bytes) -> bytes:
    """The two-hex-digit checksum of the bytes from FN through ETB/ETX inclusive."""
    return b"%02X" % (sum(fn_through_terminator) % 256)


def encode_frame(frame_number: int, text: str, *, final: bool, corrupt: bool = False) -> bytes:
    """One frame carrying ``text`` (a record, which ends in CR). ``corrupt`` spoils the checksum."""
    body = (
        bytes([0x30 + frame_number % 8]) + text.encode("latin-1") + bytes([ETX if final else ETB])
    )
    check = checksum(body)
    if corrupt:
        check = checksum(body + b"\x01")
    return bytes([STX]) + body + check + bytes([CR, LF])


class State(enum.Enum):
    IDLE = "idle"
    ESTABLISHING = "establishing"  # ENQ sent, waiting for ACK
    TRANSFER = "transfer"  # frame sent, waiting for ACK


RecordSource = Callable[[], list[str]]
"""Called at each establishment: the records of this transfer (header first), CR-terminated."""


class E1381Sender:
    """The meter's side of one link. ``receive`` takes the host's bytes and returns the
    messages to send back, in order (the HID layer turns each into reports)."""

    def __init__(
        self,
        records: RecordSource,
        corrupt_frame: Callable[[int], bool] = lambda _index: False,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._records = records
        self._corrupt_frame = corrupt_frame
        self.max_retries = max_retries
        self.state = State.IDLE
        self._texts: list[str] = []
        self._index = 0
        self._failures = 0
        self.gave_up = False

    def reset(self) -> None:
        """Power-on: idle, nothing pending."""
        self.state = State.IDLE
        self._texts = []
        self._index = 0
        self._failures = 0

    def receive(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        # The last control character decides (hosts may pad or send leftovers before it).
        control = data[-1]
        if control == EOT:
            return [self._establish()]
        if self.state is State.ESTABLISHING:
            if control == ACK:
                self.state = State.TRANSFER
                self._index, self._failures = 0, 0
                return [self._frame()]
            return [bytes([ENQ])]  # busy host (NAK) or noise: ask again
        if self.state is State.TRANSFER:
            if control == ACK:
                self._index += 1
                self._failures = 0
                if self._index >= len(self._texts):
                    self.state = State.IDLE
                    return [bytes([EOT])]
                return [self._frame()]
            self._failures += 1
            if self._failures >= self.max_retries:
                self.state = State.IDLE
                self.gave_up = True
                return [bytes([EOT])]
            return [self._frame()]
        return [bytes([NAK])]  # idle: nothing to acknowledge

    def _establish(self) -> bytes:
        self._texts = self._records()
        self.state = State.ESTABLISHING
        self.gave_up = False
        header = encode_frame(1, self._texts[0], final=len(self._texts) == 1)
        return bytes([EOT]) + header + bytes([ENQ])

    def _frame(self) -> bytes:
        index = self._index
        return encode_frame(
            index + 1,
            self._texts[index],
            final=index == len(self._texts) - 1,
            corrupt=self._corrupt_frame(index),
        )
