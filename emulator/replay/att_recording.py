"""What a recorded Bluetooth LE session says about the device, at the ATT level.

From the L2CAP frames of a capture (``emulator.replay.hci_capture``), following the
Attribute Protocol (Core spec Vol 3 Part F 3.4) and GATT discovery (Part G 4.4-4.7):

- the GATT database the host discovered: primary services (Read By Group Type
  responses), characteristics with their properties and value handles (Read By Type of
  0x2803), descriptors (Find Information responses);
- the exchanges: each request of the host that is not discovery (Read, Write, Write
  Command), numbered from 1 in order, with what the device answered (the value, a write
  response, or an ATT error) and the notifications and indications it sent next, before
  the host's following request, or the link it dropped (Disconnection Complete the host
  did not ask for);
- whether the device refused pairing (SMP Pairing Failed, Core Vol 3 Part H 3.5.5).

Exchange MTU, discovery and confirmations are left to the replaying stack; connection
handles and timing are not kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from emulator.replay.hci_capture import L2CAP_ATT, L2CAP_SMP, HciCapture, LinkLost

ERROR_RSP = 0x01
FIND_INFORMATION_REQ, FIND_INFORMATION_RSP = 0x04, 0x05
READ_BY_TYPE_REQ, READ_BY_TYPE_RSP = 0x08, 0x09
READ_REQ, READ_RSP = 0x0A, 0x0B
READ_BLOB_REQ, READ_BLOB_RSP = 0x0C, 0x0D
READ_BY_GROUP_TYPE_REQ, READ_BY_GROUP_TYPE_RSP = 0x10, 0x11
WRITE_REQ, WRITE_RSP = 0x12, 0x13
WRITE_CMD = 0x52
NOTIFICATION, INDICATION = 0x1B, 0x1D
PRIMARY_SERVICE = 0x2800
CHARACTERISTIC = 0x2803
CCCD = 0x2902
SMP_PAIRING_FAILED = 0x05
BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"


def uuid_text(raw: bytes) -> str:
    """A UUID from its little-endian ATT form: ``2a52`` for 16-bit, dashed for 128-bit."""
    if len(raw) == 2:
        return f"{int.from_bytes(raw, 'little'):04x}"
    h = raw[::-1].hex()
    full = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if full.endswith(BASE_UUID_TAIL) and full.startswith("0000"):
        return full[4:8]
    return full


@dataclass
class Descriptor:
    handle: int
    uuid: str


@dataclass
class Characteristic:
    declaration: int
    handle: int
    """The value handle."""
    uuid: str
    properties: int
    descriptors: list[Descriptor] = field(default_factory=list)


@dataclass
class Service:
    handle: int
    end: int
    uuid: str
    characteristics: list[Characteristic] = field(default_factory=list)


@dataclass(frozen=True)
class Sent:
    """A notification or indication the device sent, or the link it dropped (``drop``)."""

    kind: Literal["notify", "indicate", "drop"]
    handle: int
    value: bytes


@dataclass
class Exchange:
    number: int
    kind: Literal["read", "write", "write-command"]
    handle: int
    value: bytes = b""
    """Write: what the host wrote. Read: what the device answered."""
    error: int | None = None
    """The ATT error code the device answered with, if it refused."""
    then: list[Sent] = field(default_factory=list)


@dataclass
class AttRecording:
    services: list[Service] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    prelude: list[Sent] = field(default_factory=list)
    """Notifications sent before the host's first request (kept, not replayed)."""
    paired: bool = False
    """The capture has SMP pairing (so the device asked for, or accepted, a passkey)."""
    pairing_refused: bool = False
    """The device's last word in SMP was Pairing Failed (it refused, or the code was wrong)."""

    def characteristic_of(self, handle: int) -> Characteristic | None:
        for service in self.services:
            for characteristic in service.characteristics:
                if characteristic.handle == handle:
                    return characteristic
                if any(d.handle == handle for d in characteristic.descriptors):
                    return characteristic
        return None

    def name(self, handle: int) -> str:
        """``handle 0x0018 (UUID 2a52)``, or for a descriptor ``(UUID 2a52 / 2902)``."""
        characteristic = self.characteristic_of(handle)
        if characteristic is None:
            return f"handle 0x{handle:04X}"
        if characteristic.handle == handle:
            return f"handle 0x{handle:04X} (UUID {characteristic.uuid})"
        descriptor = next(d for d in characteristic.descriptors if d.handle == handle)
        return f"handle 0x{handle:04X} (UUID {characteristic.uuid} / {descriptor.uuid})"

    def key(self, handle: int) -> str:
        """The attribute as a stable name (characteristic UUID, and descriptor UUID)."""
        characteristic = self.characteristic_of(handle)
        if characteristic is None:
            return f"0x{handle:04X}"
        if characteristic.handle == handle:
            return characteristic.uuid
        descriptor = next(d for d in characteristic.descriptors if d.handle == handle)
        return f"{characteristic.uuid}/{descriptor.uuid}"


class _Builder:
    def __init__(self) -> None:
        self.recording = AttRecording()
        self.pending: dict[int, bytes] = {}  # connection -> the host's outstanding request
        self.last: dict[int, Exchange] = {}  # connection -> the latest exchange
        self.found_characteristics: list[Characteristic] = []
        self.found_descriptors: dict[int, str] = {}

    def host(self, connection: int, pdu: bytes) -> None:
        opcode = pdu[0]
        if opcode in (WRITE_REQ, WRITE_CMD) and len(pdu) >= 3:
            (handle,) = struct.unpack("<H", pdu[1:3])
            kind: Literal["write", "write-command"] = (
                "write" if opcode == WRITE_REQ else "write-command"
            )
            self._exchange(connection, kind, handle, bytes(pdu[3:]))
        elif opcode == READ_REQ and len(pdu) >= 3:
            (handle,) = struct.unpack("<H", pdu[1:3])
            self._exchange(connection, "read", handle)
        if opcode not in (WRITE_CMD, 0x1E, 0xD2):  # commands and confirmations get no answer
            self.pending[connection] = pdu

    def _exchange(
        self, connection: int, kind: Literal["read", "write", "write-command"], handle: int,
        value: bytes = b"",
    ) -> None:  # fmt: skip
        exchange = Exchange(len(self.recording.exchanges) + 1, kind, handle, value)
        self.recording.exchanges.append(exchange)
        self.last[connection] = exchange

    def device(self, connection: int, pdu: bytes) -> None:
        opcode = pdu[0]
        request = self.pending.get(connection, b"")
        if opcode in (NOTIFICATION, INDICATION) and len(pdu) >= 3:
            (handle,) = struct.unpack("<H", pdu[1:3])
            sent = Sent("notify" if opcode == NOTIFICATION else "indicate", handle, bytes(pdu[3:]))
            latest = self.last.get(connection)
            (latest.then if latest is not None else self.recording.prelude).append(sent)
            return
        self.pending.pop(connection, None)
        if not request:
            return
        asked = request[0]
        latest = self.last.get(connection)
        if opcode == ERROR_RSP and len(pdu) >= 5:
            if asked in (READ_REQ, WRITE_REQ) and latest is not None:
                latest.error = pdu[4]
        elif opcode == READ_RSP and latest is not None and latest.kind == "read":
            latest.value = bytes(pdu[1:])
        elif opcode == READ_BLOB_RSP and latest is not None and latest.kind == "read":
            latest.value += bytes(pdu[1:])  # a long value's next part
        elif opcode == READ_BY_GROUP_TYPE_RSP and len(pdu) >= 2:
            self._services(request, pdu)
        elif opcode == READ_BY_TYPE_RSP and len(pdu) >= 2:
            self._characteristics(request, pdu)
        elif opcode == FIND_INFORMATION_RSP and len(pdu) >= 2:
            size = 2 if pdu[1] == 1 else 16
            for offset in range(2, len(pdu) - size - 1, 2 + size):
                (handle,) = struct.unpack("<H", pdu[offset : offset + 2])
                self.found_descriptors[handle] = uuid_text(pdu[offset + 2 : offset + 2 + size])

    def _services(self, request: bytes, pdu: bytes) -> None:
        if len(request) < 7 or int.from_bytes(request[5:7], "little") != PRIMARY_SERVICE:
            return
        size = pdu[1]
        for offset in range(2, len(pdu) - size + 1, size):
            start, end = struct.unpack("<HH", pdu[offset : offset + 4])
            uuid = uuid_text(pdu[offset + 4 : offset + size])
            if all(s.handle != start for s in self.recording.services):
                self.recording.services.append(Service(start, end, uuid))

    def _characteristics(self, request: bytes, pdu: bytes) -> None:
        if len(request) < 7 or int.from_bytes(request[5:7], "little") != CHARACTERISTIC:
            return
        size = pdu[1]
        for offset in range(2, len(pdu) - size + 1, size):
            declaration, properties, handle = struct.unpack("<HBH", pdu[offset : offset + 5])
            uuid = uuid_text(pdu[offset + 5 : offset + size])
            if all(c.declaration != declaration for c in self.found_characteristics):
                self.found_characteristics.append(
                    Characteristic(declaration, handle, uuid, properties)
                )

    def finish(self) -> AttRecording:
        services = sorted(self.recording.services, key=lambda s: s.handle)
        characteristics = sorted(self.found_characteristics, key=lambda c: c.declaration)
        for service in services:
            inside = [c for c in characteristics if service.handle < c.declaration <= service.end]
            for index, characteristic in enumerate(inside):
                last = inside[index + 1].declaration - 1 if index + 1 < len(inside) else service.end
                characteristic.descriptors = [
                    Descriptor(handle, uuid)
                    for handle, uuid in sorted(self.found_descriptors.items())
                    if characteristic.handle < handle <= last
                ]
            service.characteristics = inside
        self.recording.services = services
        return self.recording


def att_recording(capture: HciCapture) -> AttRecording:
    """The GATT database and the exchanges of every link in ``capture``, in order."""
    builder = _Builder()
    for frame in capture.frames:
        if isinstance(frame, LinkLost):
            latest = builder.last.get(frame.connection)
            if latest is not None:  # before the host's first request: nothing to replay
                latest.then.append(Sent("drop", 0, bytes([frame.reason])))
            continue
        if frame.cid == L2CAP_SMP:
            builder.recording.paired = True
            if frame.received and frame.payload:
                builder.recording.pairing_refused = frame.payload[0] == SMP_PAIRING_FAILED
        if frame.cid != L2CAP_ATT or not frame.payload:
            continue
        if frame.received:
            builder.device(frame.connection, frame.payload)
        else:
            builder.host(frame.connection, frame.payload)
    return builder.finish()
