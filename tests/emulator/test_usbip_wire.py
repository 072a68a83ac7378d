"""The emulator's USB/IP server side against the shared vectors (tests/vectors/usbip)."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from emulator.devices.contour_usb import build_contour_meter
from emulator.usb import EmulatedUsbBackend
from emulator.usbip import UsbipServer, wire
from emulator.usbip.server import describe

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "usbip" / "headers.json").read_text()
)


def raw(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name]["hex"])


def test_usb_device_record_matches_the_layout() -> None:
    v = VECTORS["usb_device"]
    record = wire.ExportedDevice(
        path=v["path"],
        busid=v["busid"],
        busnum=v["busnum"],
        devnum=v["devnum"],
        speed=v["speed"],
        id_vendor=v["idVendor"],
        id_product=v["idProduct"],
        bcd_device=v["bcdDevice"],
        device_class=0,
        device_subclass=0,
        device_protocol=0,
        configuration_value=v["bConfigurationValue"],
        num_configurations=v["bNumConfigurations"],
        interfaces=((3, 0, 0),),
    )
    assert record.pack() == raw("usb_device")
    assert len(record.pack()) == v["size"] == wire.USB_DEVICE.size
    assert wire.op_header(wire.OP_REP_DEVLIST) + struct.pack(">I", 1) + (
        record.pack_with_interfaces()
    ) == raw("op_rep_devlist")
    assert wire.op_header(wire.OP_REP_IMPORT) + record.pack() == raw("op_rep_import_ok")
    assert wire.op_header(wire.OP_REP_IMPORT, wire.ST_NA) == raw("op_rep_import_failed")


def test_commands_parse_as_the_protocol_lays_them_out() -> None:
    submit = wire.parse_command(raw("cmd_submit_control_in"))
    v = VECTORS["cmd_submit_control_in"]
    assert (submit.command, submit.seqnum, submit.devid, submit.direction, submit.endpoint) == (
        wire.CMD_SUBMIT, v["seqnum"], v["devid"], v["direction"], v["ep"],
    )  # fmt: skip
    assert (submit.transfer_flags, submit.length, submit.interval) == (0x200, 18, 0)
    assert struct.unpack("<BBHHH", submit.setup) == (0x80, 6, 0x0100, 0, 18)
    out = raw("cmd_submit_interrupt_out")
    command = wire.parse_command(out[:48])
    assert (command.direction, command.endpoint, command.length, command.interval) == (0, 1, 4, 1)
    assert out[48:] == bytes.fromhex(VECTORS["cmd_submit_interrupt_out"]["data"])
    unlink = wire.parse_command(raw("cmd_unlink"))
    assert (unlink.command, unlink.seqnum, unlink.unlink_seqnum) == (wire.CMD_UNLINK, 9, 5)


def test_replies_match_the_layout() -> None:
    assert wire.ret_submit(1, 0, bytes.fromhex("12010002")) == raw("ret_submit_in")
    assert wire.ret_submit(7, -32) == raw("ret_submit_stall")
    assert wire.ret_unlink(9, -104) == raw("ret_unlink_cancelled")
    assert wire.ret_unlink(9, 0) == raw("ret_unlink_too_late")


@pytest.fixture
def server() -> Any:
    bus = EmulatedUsbBackend()
    bus.plug(build_contour_meter(days=2))
    with UsbipServer(bus, "127.0.0.1", 0) as running:
        yield running


def _exchange(server: UsbipServer, request: bytes, size: int) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        return wire.recv_exact(sock, size)


def test_the_server_answers_a_vector_devlist_request(server: UsbipServer) -> None:
    reply = _exchange(server, raw("op_req_devlist"), 328)
    assert reply[:12] == raw("op_rep_devlist")[:12]  # header, one device
    device = wire.USB_DEVICE.unpack(reply[12:324])
    assert device[1].rstrip(b"\0") == b"1-1" and device[5:7] == (0x1A79, 0x7410)
    assert reply[324:] == bytes([3, 0, 0, 0])  # the HID interface


def test_the_server_answers_a_vector_import_then_a_descriptor_request(
    server: UsbipServer,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw("op_req_import"))
        reply = wire.recv_exact(sock, 8 + 312)
        assert reply[:8] == raw("op_rep_import_ok")[:8]
        assert describe(server.exported()["1-1"]).pack() == reply[8:]
        sock.sendall(raw("cmd_submit_control_in"))
        header = wire.URB_HEADER.unpack(wire.recv_exact(sock, 48))
        assert header[:3] == (wire.RET_SUBMIT, 1, 0) and header[5:7] == (0, 18)
        descriptor = wire.recv_exact(sock, 18)
        assert descriptor[:2] == b"\x12\x01" and descriptor[8:12] == bytes.fromhex("791a1074")
        sock.sendall(raw("cmd_unlink"))  # seqnum 5 was never submitted: nothing to cancel
        assert wire.recv_exact(sock, 48) == raw("ret_unlink_too_late")


def test_a_busid_nobody_exports_is_refused(server: UsbipServer) -> None:
    request = wire.op_header(wire.OP_REQ_IMPORT) + b"9-9".ljust(32, b"\0")
    assert _exchange(server, request, 8) == wire.op_header(wire.OP_REP_IMPORT, wire.ST_NODEV)
