"""Property tests: USB/IP commands, capture files and scenario files from anywhere (issue 10).

The USB/IP server (emulator/usbip/server.py) gets an import then any stream of URB headers
and payloads: it answers or closes the connection, never leaves a thread dead or a client
hanging. The capture readers (emulator/replay/usb_capture.py, hci_capture.py) give their
typed error or packets for any file. The scenario loader (hil/scenarios/loader.py) gives a
``ScenarioFileError`` naming a line for any text or bytes.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from emulator.devices.contour_usb import build_contour_meter
from emulator.replay import hci_capture, usb_capture
from emulator.usb import EmulatedUsbBackend
from emulator.usbip import UsbipServer, wire
from hil.scenarios.loader import ScenarioFileError, load_scenario, parse_scenario

WORK = Path(tempfile.mkdtemp(prefix="diahil-fuzz-"))


@contextmanager
def thread_failures() -> Iterator[list[BaseException]]:
    """Exceptions that end a thread while the block runs."""
    failures: list[BaseException] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            failures.append(args.exc_value)

    threading.excepthook = hook
    try:
        yield failures
    finally:
        threading.excepthook = previous


# ---- USB/IP --------------------------------------------------------------------------------

urb_commands = st.builds(
    lambda command, seqnum, direction, endpoint, flags, length, setup: wire.URB_HEADER.pack(
        command, seqnum, 0x10002, direction, endpoint, flags, length, 0, -1, 0, setup
    ),
    st.sampled_from([wire.CMD_SUBMIT, wire.CMD_UNLINK, 0, 7]),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 3),
    st.integers(0, 0xFFFFFFFF),
    st.integers(-(2**31), 2**31 - 1),
    st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(0, 80)),
    st.binary(min_size=8, max_size=8),
)


def _serve_stream(stream: bytes) -> bytes:
    bus = EmulatedUsbBackend()
    bus.plug(build_contour_meter(days=1))
    with (
        thread_failures() as failures,
        UsbipServer(bus, "127.0.0.1", 0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(wire.op_header(wire.OP_REQ_IMPORT) + b"1-1".ljust(32, b"\0"))
        assert wire.recv_exact(sock, 8 + 312)[:8] == wire.op_header(wire.OP_REP_IMPORT)
        answer = _send_then_read(sock, stream)
    assert not failures, failures
    return answer


def _send_then_read(sock: socket.socket, stream: bytes) -> bytes:
    """Send ``stream``, then read until the server closes (the timeout catches a hang).

    The server may close early (a stream out of step): that is an answer, not a failure."""
    answer = bytearray()
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        sock.sendall(stream)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    return bytes(answer)


@given(st.lists(st.tuples(urb_commands, st.binary(max_size=80)), max_size=6))
def test_usbip_server_answers_or_closes_for_any_urb_stream(
    commands: list[tuple[bytes, bytes]],
) -> None:
    answer = _serve_stream(b"".join(header + data for header, data in commands))
    offset = 0
    while offset + 48 <= len(answer):  # every reply is a well-formed RET_SUBMIT/RET_UNLINK
        header = wire.URB_HEADER.unpack(answer[offset : offset + 48])
        assert header[0] in (wire.RET_SUBMIT, wire.RET_UNLINK)
        offset += 48 + (header[6] if header[0] == wire.RET_SUBMIT and header[3] == 0 else 0)


@given(st.binary(max_size=200))
def test_usbip_server_survives_any_bytes_after_import(stream: bytes) -> None:
    _serve_stream(stream)


def test_usbip_out_length_of_two_gigabytes_is_refused_at_once() -> None:
    """Found by fuzzing: the server waited for (and read buffers of) the claimed length."""
    header = wire.URB_HEADER.pack(
        wire.CMD_SUBMIT, 1, 0x10002, wire.DIR_OUT, 2, 0, 2**31 - 1, 0, -1, 0, bytes(8)
    )
    bus = EmulatedUsbBackend()
    bus.plug(build_contour_meter(days=1))
    with (
        UsbipServer(bus, "127.0.0.1", 0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(wire.op_header(wire.OP_REQ_IMPORT) + b"1-1".ljust(32, b"\0"))
        wire.recv_exact(sock, 8 + 312)
        sock.sendall(header + bytes(64))  # and keep the connection open
        assert sock.recv(48) == b""  # the server closes it; before the fix: a timeout


@given(st.binary(max_size=120))
def test_usbip_operation_requests_are_answered_or_closed(request: bytes) -> None:
    bus = EmulatedUsbBackend()
    bus.plug(build_contour_meter(days=1))
    with (
        thread_failures() as failures,
        UsbipServer(bus, "127.0.0.1", 0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        _send_then_read(sock, request)
    assert not failures, failures


# ---- capture files -------------------------------------------------------------------------


def _pcap(link: int, records: list[bytes], cut: int) -> bytes:
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    body = b"".join(struct.pack("<IIII", 1, 0, len(r), len(r)) + r for r in records)
    data = head + body
    return data[: len(data) - cut]


def _btsnoop(records: list[tuple[int, bytes]], cut: int) -> bytes:
    data = hci_capture.BTSNOOP_MAGIC + struct.pack(">II", 1, 1002)
    for flags, record in records:
        data += struct.pack(">IIIIq", len(record), len(record), flags, 0, 0) + record
    return data[: len(data) - cut]


records = st.lists(st.binary(max_size=90), max_size=8)
cuts = st.integers(0, 3)


def _write(data: bytes) -> Path:
    path = WORK / "capture.bin"
    path.write_bytes(data)
    return path


@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(_pcap, st.sampled_from(usb_capture.USB_LINK_TYPES), records, cuts),
    )
)
def test_usb_capture_reader_gives_transfers_or_a_format_error(data: bytes) -> None:
    try:
        capture = usb_capture.read_usb_capture(_write(data))
    except usb_capture.CaptureFormatError as error:
        problem = str(error)
    else:
        assert all(transfer.describe() for transfer in capture.transfers)
        return
    assert problem


@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(lambda b: hci_capture.BTSNOOP_MAGIC + b, st.binary(max_size=60)),
        st.builds(_btsnoop, st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=40))), cuts),
        st.builds(_pcap, st.just(hci_capture.LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR), records, cuts),
    )
)
def test_hci_capture_reader_gives_packets_or_a_capture_error(data: bytes) -> None:
    path = _write(data)
    problem = "none"
    try:
        hci_capture.read_capture(path)
    except hci_capture.CaptureError as error:
        problem = str(error)
    assert problem
    hci_capture.is_hci_capture(path)


# ---- scenario files ------------------------------------------------------------------------

LINE = re.compile(r" line \d+")
yaml_words = st.sampled_from(
    [
        "name: x\n",
        "devices:\n",
        "  - kind: contour\n",
        "runs:\n",
        "faults:\n",
        "- ",
        "  ",
        ": ",
        "&a [1, 2]\n",
        "*a\n",
        "!!python/object:os.system\n",
        "{",
        "}",
        "[",
        "'",
        '"\\x00"',
        "\t",
        "\x00",
        "\ufeff",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "? ",
        "|\n",
        "1e999\n",
        "<<: *a\n",
    ]
)


@given(st.one_of(st.text(max_size=200), st.lists(yaml_words, max_size=30).map("".join)))
def test_any_scenario_text_is_a_scenario_or_an_error_naming_a_line(text: str) -> None:
    try:
        parse_scenario(text, "fuzz.yaml")
    except ScenarioFileError as error:
        problem = str(error)
    else:
        return
    assert problem.startswith("fuzz.yaml")
    assert LINE.search(problem), problem


@given(st.binary(max_size=200))
def test_any_scenario_bytes_are_read_or_refused_with_the_file_named(data: bytes) -> None:
    path = WORK / "scenario.yaml"
    path.write_bytes(data)
    try:
        load_scenario(path)
    except ScenarioFileError as error:
        problem = str(error)
    else:
        return
    assert problem.startswith(str(path))
