"""Writing a USB session as Windows USBPcap captures (link type 249), for tests and support.

Turns the transfers of any USB capture (``emulator.replay.usb_capture``) into the file
USBPcap writes on Windows: per transfer, the request going down (info bit 0 clear) and its
completion coming back (bit 0 set), sharing an irpId, each with the packed 27-byte
``USBPCAP_BUFFER_PACKET_HEADER``. A control transfer is its SETUP stage (the 8-byte setup
packet), an OUT DATA stage when it carries data, and a COMPLETE stage with the IN data and
the USBD status (one byte more in the header: the stage). Errors become the USBD statuses
Windows reports (stall, device gone, cancelled after a timeout).

So a session recorded once can be tested as it arrives from a Windows user: the same
transfers, the other capture format.
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt

from emulator.replay.usb_capture import (
    CONTROL,
    LINKTYPE_USBPCAP,
    USBD_STATUS_FOR_ERRNO,
    USBD_STATUS_XACT_ERROR,
    Transfer,
)

_HEADER = struct.Struct("<HQIHBHHBBI")
URB_FUNCTION_CONTROL_TRANSFER = 0x0008
URB_FUNCTION_BULK_OR_INTERRUPT_TRANSFER = 0x0009
STAGE_SETUP, STAGE_DATA, STAGE_COMPLETE = 0, 1, 3


def _packet(
    t: Transfer, irp: int, status: int, back: bool, data: bytes, stage: int | None
) -> bytes:
    control = t.transfer_type == CONTROL
    length = _HEADER.size + (1 if control else 0)
    function = URB_FUNCTION_CONTROL_TRANSFER if control else URB_FUNCTION_BULK_OR_INTERRUPT_TRANSFER
    endpoint = t.endpoint & 0x80 if control else t.endpoint
    header = _HEADER.pack(
        length, irp, status, function, int(back), t.bus, t.device, endpoint, t.transfer_type,
        len(data),
    )  # fmt: skip
    return header + (bytes([stage or 0]) if control else b"") + data


def _usbd_status(t: Transfer) -> int:
    if t.status == 0:
        return 0
    return USBD_STATUS_FOR_ERRNO.get(-t.status, USBD_STATUS_XACT_ERROR)


def usbpcap_packets(transfers: tuple[Transfer, ...] | list[Transfer]) -> list[bytes]:
    """The USBPcap records of ``transfers``, in order."""
    packets: list[bytes] = []
    for n, t in enumerate(transfers):
        irp = 0xFFFF_A000_0000_0000 + n * 0x10
        status = _usbd_status(t)
        if t.transfer_type == CONTROL:
            packets.append(_packet(t, irp, 0, False, (t.setup or bytes(8))[:8], STAGE_SETUP))
            if t.out_data:
                packets.append(_packet(t, irp, 0, False, t.out_data, STAGE_DATA))
            packets.append(_packet(t, irp, status, True, t.in_data, STAGE_COMPLETE))
        else:
            packets.append(_packet(t, irp, 0, False, t.out_data, None))
            packets.append(_packet(t, irp, status, True, t.in_data, None))
    return packets


def write_usbpcap(transfers: tuple[Transfer, ...] | list[Transfer], path: Path) -> Path:
    """Write ``transfers`` as a USBPcap pcap file at ``path``."""
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=0x40000, linktype=LINKTYPE_USBPCAP)
        for i, packet in enumerate(usbpcap_packets(transfers)):
            writer.writepkt(packet, ts=1_700_000_000 + i / 1000)
    return path
