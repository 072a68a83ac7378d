"""Bluetooth LE capture files (``--capture FILE`` on a Bluetooth upload).

Two levels, depending on what the stack lets us see:

- HCI, on the project's Bumble central (``--ble-transport``, and every emulated link):
  ``HciRecorder`` is the Bumble host's snooper, so it is handed every HCI packet both ways
  (commands, events, ACL data) with its time. The packets are written as
  * btsnoop (``.btsnoop``: RFC 1761 framing as the Android and BlueZ tools write it, datalink
    1002 = HCI UART/H4; flags bit 0 = received, bit 1 = command/event), or
  * pcapng (``.pcapng``, ``.pcap``: LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR = 201, a 4-byte
    big-endian direction, 0 = sent by the host, 1 = received, before each H4 packet),
  which Wireshark and ``tshark`` decode down to L2CAP, SMP and ATT: HCI is above the link
  layer's encryption, so an encrypted link's ATT is plaintext in the file.
- GATT, on the operating system's stack (bleak on BlueZ, WinRT, CoreBluetooth), which gives
  no HCI: every GATT read, write and notification/indication the uploader made (time,
  operation, characteristic UUID, value) goes, as the ATT PDU that carried it, to a pcapng
  file beside the requested one, ``FILE.gatt.pcapng`` (``uploader.gatt_capture``), which
  Wireshark decodes as ATT; ``diahil replay`` cannot replay it (there is no HCI).

Pcapng writing uses dpkt; the framing of each HCI packet is this module's.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import dpkt
from bumble.snoop import Snooper

from uploader.gatt_capture import GattOperation, write_gatt_pcapng

BleCaptureFormat = Literal["btsnoop", "pcapng"]
LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR = 201
BTSNOOP_MAGIC = b"btsnoop\0"
BTSNOOP_VERSION = 1
BTSNOOP_DATALINK_H4 = 1002
BTSNOOP_EPOCH_DELTA_US = 0x00DCDDB30F2F8000
"""Microseconds from 0000-01-01 (btsnoop's epoch) to 1970-01-01."""
H4_COMMAND = 0x01
H4_EVENT = 0x04
DEFAULT_LIMIT = 500_000
GATT_SIDECAR_SUFFIX = ".gatt.pcapng"

FORMAT_BY_SUFFIX: dict[str, BleCaptureFormat] = {
    ".btsnoop": "btsnoop",
    ".log": "btsnoop",  # Android's btsnoop_hci.log
    ".pcapng": "pcapng",
    ".pcap": "pcapng",
}


@dataclass(frozen=True)
class HciPacket:
    time_us: int
    """Wall-clock time, microseconds since the Unix epoch."""
    received: bool
    """True: controller to host; False: host to controller."""
    h4: bytes
    """The packet with its H4 type byte (1 command, 2 ACL, 3 SCO, 4 event)."""


class HciRecorder(Snooper):
    """A Bumble snooper that keeps the HCI packets in memory (up to ``limit``)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.packets: list[HciPacket] = []
        self.dropped = 0

    def snoop(self, hci_packet: bytes, direction: Snooper.Direction) -> None:
        if len(self.packets) >= self.limit:
            self.dropped += 1
            return
        received = direction == Snooper.Direction.CONTROLLER_TO_HOST
        self.packets.append(HciPacket(time.time_ns() // 1000, received, bytes(hci_packet)))


def write_btsnoop(out: BinaryIO, packets: list[HciPacket]) -> None:
    out.write(BTSNOOP_MAGIC + struct.pack(">II", BTSNOOP_VERSION, BTSNOOP_DATALINK_H4))
    for packet in packets:
        flags = int(packet.received)
        if packet.h4[:1] in (bytes([H4_COMMAND]), bytes([H4_EVENT])):
            flags |= 0x02
        size = len(packet.h4)
        stamp = packet.time_us + BTSNOOP_EPOCH_DELTA_US
        out.write(struct.pack(">IIIIq", size, size, flags, 0, stamp) + packet.h4)


def write_pcapng(out: BinaryIO, packets: list[HciPacket]) -> None:
    writer = dpkt.pcapng.Writer(out, snaplen=65535, linktype=LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR)
    for packet in packets:
        header = struct.pack(">I", int(packet.received))
        writer.writepkt(header + packet.h4, ts=packet.time_us / 1_000_000)


def capture_format(path: Path, explicit: str | None = None) -> BleCaptureFormat:
    """The format asked for (``--capture-format``), else the one ``path``'s extension names.
    ``ValueError`` with a sentence for the user if neither says."""
    if explicit is not None:
        if explicit not in ("btsnoop", "pcapng"):
            raise ValueError(f"Bluetooth captures are btsnoop or pcapng, not {explicit!r}.")
        return "pcapng" if explicit == "pcapng" else "btsnoop"
    found = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if found is None:
        known = ", ".join(FORMAT_BY_SUFFIX)
        raise ValueError(
            f"The extension of {path.name} does not say the capture format ({known}); "
            "rename the file or add --capture-format btsnoop|pcapng."
        )
    return found


@dataclass
class BleCaptureFile:
    """One Bluetooth capture to write after an upload: HCI if the stack gave packets
    (``snooper``), else the GATT-level sidecar (``gatt``)."""

    path: Path
    format: BleCaptureFormat
    snooper: HciRecorder = field(default_factory=HciRecorder)
    gatt_operations: list[GattOperation] = field(default_factory=list)

    def gatt(self, operation: str, characteristic: str, data: bytes | None) -> None:
        """A GATT operation as the uploader made it (``GattCapture``)."""
        self.gatt_operations.append(GattOperation.now(operation, characteristic, data))

    @property
    def sidecar(self) -> Path:
        return self.path.with_name(self.path.name + GATT_SIDECAR_SUFFIX)

    def write(self) -> list[Path]:
        """Write what was captured; the files written (none if nothing was exchanged).
        Raises ``OSError`` if a file cannot be written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.snooper.packets:
            with self.path.open("wb") as out:
                if self.format == "btsnoop":
                    write_btsnoop(out, self.snooper.packets)
                else:
                    write_pcapng(out, self.snooper.packets)
            return [self.path]
        if self.gatt_operations:
            with self.sidecar.open("wb") as out:
                write_gatt_pcapng(out, self.gatt_operations)
            return [self.sidecar]
        return []
