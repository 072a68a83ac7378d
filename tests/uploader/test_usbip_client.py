"""The uploader's USB/IP client against the shared vectors (tests/vectors/usbip): a scripted
peer on a loopback socket checks the bytes the client sends and answers with vector bytes."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import usb.core

from uploader.device_spec import UsbipSelector, parse_device
from uploader.transports.usbip import (
    DIR_IN,
    UsbipAddress,
    UsbipSession,
    list_exported,
    parse_usbip_url,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "usbip" / "headers.json").read_text()
)


def raw(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name]["hex"])


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


Script = Callable[[socket.socket], None]


@pytest.fixture
def peer() -> Iterator[Callable[[Script], tuple[int, list[BaseException]]]]:
    """Run a script as the server of one connection; its failures are reported."""
    listeners: list[socket.socket] = []

    def start(script: Script) -> tuple[int, list[BaseException]]:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        errors: list[BaseException] = []

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                try:
                    script(conn)
                except BaseException as error:  # handed to the test
                    errors.append(error)

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1], errors

    yield start
    for listener in listeners:
        listener.close()


def test_devlist_is_read_from_the_vector(peer: Any) -> None:
    def script(conn: socket.socket) -> None:
        assert recv_exact(conn, 8) == raw("op_req_devlist")
        conn.sendall(raw("op_rep_devlist"))

    port, errors = peer(script)
    [device] = list_exported("127.0.0.1", port)
    v = VECTORS["usb_device"]
    assert (device.busid, device.busnum, device.devnum, device.speed) == ("1-1", 1, 2, 2)
    assert (device.vendor_id, device.product_id) == (v["idVendor"], v["idProduct"])
    assert device.interfaces == ((3, 0, 0),)
    assert errors == []


def test_import_submit_and_unlink_bytes_match_the_vectors(peer: Any) -> None:
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        assert recv_exact(conn, 40) == raw("op_req_import")
        conn.sendall(raw("op_rep_import_ok"))
        assert recv_exact(conn, 48) == raw("cmd_submit_control_in")  # seqnum 1, devid 1-2
        conn.sendall(raw("ret_submit_in"))
        submit = recv_exact(conn, 48)  # seqnum 2: an IN transfer the peer never answers
        unlink = recv_exact(conn, 48)
        expected = bytearray(raw("cmd_unlink"))
        expected[4:8] = (3).to_bytes(4, "big")  # the unlink's own seqnum
        expected[20:24] = submit[4:8]  # names the transfer to cancel
        assert unlink == bytes(expected)
        answer = bytearray(raw("ret_unlink_cancelled"))
        answer[4:8] = (3).to_bytes(4, "big")
        conn.sendall(bytes(answer))
        done.wait(5)

    port, errors = peer(script)
    session = UsbipSession(UsbipAddress("127.0.0.1", port, "1-1"))
    try:
        assert session.devid == 0x00010002
        urb = session.control(0x80, 0x06, 0x0100, 0, 18, 1000)
        assert urb.data == bytes.fromhex(VECTORS["ret_submit_in"]["data"])
        with pytest.raises(usb.core.USBTimeoutError) as caught:
            session.submit(DIR_IN, 1, 64, timeout_ms=30)
        assert caught.value.errno == errno.ETIMEDOUT and session.unlinks_sent == 1
    finally:
        done.set()
        session.close()
    assert errors == []


def test_a_stall_is_libusbs_pipe_error_and_a_dropped_connection_is_enodev(peer: Any) -> None:
    def script(conn: socket.socket) -> None:
        recv_exact(conn, 40)
        conn.sendall(raw("op_rep_import_ok"))
        for _ in range(6):
            recv_exact(conn, 48)  # seqnums 1..6; the sixth is answered with a stall
        conn.sendall(raw("ret_submit_stall").replace(b"\x00\x00\x00\x07", b"\x00\x00\x00\x06", 1))
        recv_exact(conn, 48)  # seqnum 7: the connection drops while it waits

    port, errors = peer(script)
    session = UsbipSession(UsbipAddress("127.0.0.1", port, "1-1"))
    threads = []
    results: dict[int, usb.core.USBError] = {}
    for n in range(6):  # five IN transfers wait, the sixth stalls

        def run(n: int = n) -> None:
            try:
                session.submit(DIR_IN, 1, 64, timeout_ms=5000)
            except usb.core.USBError as error:
                results[n] = error

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        while session._seqnum < n + 1:  # submitted in order
            time.sleep(0.001)
    threads[5].join(5)
    with pytest.raises(usb.core.USBError) as lost:
        session.submit(DIR_IN, 1, 64, timeout_ms=5000)
    assert lost.value.errno == errno.ENODEV
    for thread in threads:
        thread.join(5)
    assert results[5].errno == errno.EPIPE
    assert {results[n].errno for n in range(5)} == {errno.ENODEV}
    session.close()
    assert errors == []


@pytest.mark.parametrize(
    ("spec", "host", "port", "busid"),
    [
        ("usbip://127.0.0.1:3240/1-1", "127.0.0.1", 3240, "1-1"),
        ("usbip://rig-1.lan/3-1.2", "rig-1.lan", 3240, "3-1.2"),
        ("usbip://[::1]:4000/2-1", "::1", 4000, "2-1"),
    ],
)
def test_usbip_urls(spec: str, host: str, port: int, busid: str) -> None:
    assert parse_usbip_url(spec) == UsbipAddress(host, port, busid)
    selector = parse_device(spec)
    assert isinstance(selector, UsbipSelector) and selector.address == UsbipAddress(
        host, port, busid
    )
    assert parse_usbip_url(str(selector)) == selector.address  # printed as it parses
