"""Fuzz targets for the emulator's parsers, the mock cloud's bodies and scenario files.

The device side of every protocol reads what a host writes: Contour HID OUT reports and the
ASTM E1381 link, the GATT writes of the GLS, CGMS and IDS peripherals (RACP, SOCP, Session
Start Time, E2E-CRC, the clock, the IDD Status Reader and Command Control Points; Tandem
chunks, framing, pairing and signatures),
MiniMed/NGP messages to the emulated Contour Next Link and pump, USB/IP commands to the
server; the replay readers read capture files; the mock cloud reads request bodies; the
scenario loader reads YAML. Each target feeds bytes in the way
the real caller does; the contract (bench/fuzz/targets.py ``check``) is a result or the
documented typed error, never another exception. Names start ``emu_`` (the uploader's
targets are in bench/fuzz/targets.py); regression inputs live in
tests/vectors/fuzz/emulator/<target>/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

from bench.fuzz.targets import Target
from emulator.protocols import cgms, contour_hid, e1381, gls, ids, minimed600, racp
from emulator.protocols.ble_time import parse_date_time
from emulator.protocols.e2e_crc import CrcError
from emulator.replay import hci_capture, usb_capture

_WORK = Path(tempfile.mkdtemp(prefix="diahil-fuzz-emu-"))


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def contour_link(data: bytes) -> None:
    """OUT reports (64 bytes each) through the meter's HID framing into its E1381 sender."""
    texts = ["1H|\\^&||||||||||P|1|\r", "2R|1|^^^Glucose|100|mg/dL^P||||202001010000\r", "3L|1\r"]
    sender = e1381.E1381Sender(lambda: list(texts), max_retries=3)
    for report in _chunks(data, contour_hid.REPORT_SIZE):
        for answer in sender.receive(contour_hid.decode_out_report(report)):
            contour_hid.encode_in_reports(answer)


def gatt_writes(data: bytes) -> None:
    """The first byte picks the characteristic written; the rest is the value."""
    pick, value = (data[0] % 10, data[1:]) if data else (0, b"")
    if pick == 0:
        _racp(value, gls.FILTERS)
    elif pick == 1:
        _racp(value, cgms.FILTERS)
    elif pick == 2:  # the GLS clock write
        with contextlib.suppress(ValueError):
            parse_date_time(value[:7])
    elif pick in (3, 4):
        with contextlib.suppress(CrcError):
            cgms.parse_socp(value, e2e=pick == 4)
        with contextlib.suppress(ValueError):  # CrcError is one: both become an ATT error
            cgms.parse_session_start_time(value, e2e=pick == 4)
    elif pick in (5, 6):
        with contextlib.suppress(CrcError, ids.RacpRejected):
            ids.parse_racp(ids.unprotect(value, pick == 6))
    elif pick == 9:  # Tandem: 24-byte chunks joined, decoded, checked as pairing/signed
        _tandem_writes(value)
    else:  # IDD Status Reader and Command Control Points (after their E2E check)
        pump = _ids_pump()
        pump._srcp_answer(value)
        pump._ccp_answer(value)


def _tandem_writes(value: bytes) -> None:
    from emulator.protocols import tandem, tandem_auth

    joiner, key = tandem.Joiner(), bytes(20)
    for chunk in _chunks(value, 24):
        try:
            joined = joiner.feed(chunk)
            if joined is None:
                continue
            message = tandem.decode_message(joined)
        except tandem.FramingError:
            continue
        with contextlib.suppress(tandem_auth.AuthError):
            tandem_auth.parse_central_challenge(message.cargo)
        with contextlib.suppress(tandem_auth.AuthError):
            tandem_auth.check_pump_challenge("A" * 16, key, message.cargo)
        with contextlib.suppress(tandem_auth.AuthError):
            tandem_auth.verify(message.opcode, message.transaction_id, message.cargo, key)


@cache
def _ids_pump() -> Any:
    from datetime import UTC, datetime

    from emulator.ble.ids_pump import IdsPump
    from emulator.generators.pump_history import generate_pump_history

    end = datetime(2026, 3, 15, tzinfo=UTC)
    return IdsPump(generate_pump_history(5, timezone="Europe/Berlin", end=end, days=1))


def _racp(value: bytes, filters: dict[int, racp.FilterType]) -> None:
    try:
        racp.parse_request(value, filters).op.to_bytes(1, "little")
    except racp.Rejected as rejected:
        rejected.response()


def minimed_messages(data: bytes) -> None:
    """What the emulated CNL reads from the host, down to the pump's decrypted ComD."""
    errors = (minimed600.MessageError,)
    with contextlib.suppress(*errors):
        minimed600.minimed_complete(data)
        message = minimed600.decode_minimed(data)
        ngp = minimed600.decode_ngp(message.payload)
        with contextlib.suppress(*errors):
            minimed600.decode_join_request(ngp.payload)
        request = minimed600.decode_transmit_request(ngp.payload)
        plain = minimed600.decrypt(bytes(16), 0x14, request.encrypted)
        minimed600.decode_comd(plain)
    if len(data) >= 3:  # and as a ComD command to the emulated pump
        command = minimed600.encode_comd(data[0], int.from_bytes(data[1:3], "big"), data[3:])
        for answer in _minimed_pump().answer(minimed600.decode_comd(command)):
            minimed600.decode_comd(answer)
    for part in (data, data[1:]):
        with contextlib.suppress(*errors):
            minimed600.decode_ngp(part)
        with contextlib.suppress(*errors):
            minimed600.decode_comd(part)
        with contextlib.suppress(*errors):
            minimed600.decode_transmit_request(part)


@cache
def _minimed_pump() -> Any:
    from datetime import UTC, datetime

    from emulator.devices.minimed600_pump import Minimed600Pump
    from emulator.generators.pump_history import generate_pump_history

    end = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
    model = generate_pump_history(
        5, timezone="Europe/Berlin", end=end, days=1, time_source=lambda: end
    )
    return Minimed600Pump(model, seed=5, timezone="Europe/Berlin")


@cache
def _usbip_server() -> Any:
    from emulator.devices.contour_usb import build_contour_meter
    from emulator.usb import EmulatedUsbBackend
    from emulator.usbip import UsbipServer

    bus = EmulatedUsbBackend()
    bus.plug(build_contour_meter(days=1))
    return UsbipServer(bus, "127.0.0.1", 0)  # not started: each input gets its own pair


def usbip_server(data: bytes) -> None:
    """An IMPORT of the meter, then ``data`` as the URB stream, over a socket pair; the
    server must answer or close, and its threads must not die."""
    from emulator.usbip import wire

    server = _usbip_server()
    client, served = socket.socketpair()
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            server._serve(served)
        except BaseException as exc:  # collected: a thread's death is the bug
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with client:
        client.settimeout(10)
        import_request = wire.op_header(wire.OP_REQ_IMPORT) + b"1-1".ljust(32, b"\0")
        with contextlib.suppress(OSError):
            client.sendall(import_request + data)
            client.shutdown(socket.SHUT_WR)
            while client.recv(65536):
                pass
    thread.join(10)
    if thread.is_alive():
        raise TimeoutError("the USB/IP server did not close the connection")
    if failures:
        raise failures[0]


def usb_capture_file(data: bytes) -> None:
    path = _WORK / "capture.pcap"
    path.write_bytes(data)
    for transfer in usb_capture.read_usb_capture(path).transfers:
        transfer.describe()


def hci_capture_file(data: bytes) -> None:
    path = _WORK / "capture.btsnoop"
    path.write_bytes(data)
    hci_capture.is_hci_capture(path)
    hci_capture.read_capture(path)


def scenario_file(data: bytes) -> None:
    """Any bytes as a scenario file: a scenario, or ``ScenarioFileError`` (the documented
    error, caught here: the loader is imported on first use, it takes seconds)."""
    from hil.scenarios.loader import ScenarioFileError, load_scenario

    path = _WORK / "scenario.yaml"
    path.write_bytes(data)
    with contextlib.suppress(ScenarioFileError):
        load_scenario(path)


# ---- the mock cloud ------------------------------------------------------------------------


class _Cloud:
    """One in-memory cloud with an account and a data set; bodies go through ASGI."""

    def __init__(self) -> None:
        import httpx

        from mock_cloud import CloudSettings, create_app, passwords, sessions

        passwords.DEFAULT_COST = passwords.Argon2Cost(time_cost=1, memory_cost=8, parallelism=1)
        self.app = create_app(CloudSettings(db_url="sqlite://"))
        self.runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://cloud.test")
        user = {"username": "f@example.com", "emails": ["f@example.com"], "password": "x" * 12}
        signed = self.runner.run(self.client.post("/auth/user", json=user))
        self.token = signed.headers[sessions.TOKEN_HEADER]
        self.header = sessions.TOKEN_HEADER
        self.userid = signed.json()["userid"]
        body = {
            "client": {"name": "org.diahil.uploader", "version": "0.1.0"},
            "dataSetType": "normal",
            "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
            "deviceId": "AscensiaContour-7390012",
            "deviceManufacturers": ["Ascensia"],
            "deviceModel": "Contour Next One",
            "deviceSerialNumber": "7390012",
            "deviceTags": ["bgm"],
            "time": "2024-05-01T12:00:00Z",
            "timeProcessing": "across-the-board-timezone",
            "timezone": "Europe/Berlin",
            "timezoneOffset": 120,
        }
        created = self.runner.run(
            self.client.post(
                f"/v1/users/{self.userid}/data_sets", json=body, headers={self.header: self.token}
            )
        )
        self.dataset = created.json()["id"]

    def routes(self) -> list[tuple[str, str]]:
        u, d = self.userid, self.dataset
        return [
            ("POST", "/auth/user"),
            ("POST", f"/v1/users/{u}/data_sets"),
            ("PUT", f"/v1/data_sets/{d}"),
            ("POST", f"/v1/data_sets/{d}/data"),
            ("POST", f"/v1/users/{u}/invitations"),
            ("POST", f"/access/{u}/{u}"),
            ("POST", "/auth/login"),
        ]


class CloudAnswerError(AssertionError):
    """The mock cloud answered a body with a 5xx or a 4xx without the error body."""


@cache
def _cloud() -> _Cloud:
    return _Cloud()


def cloud_bodies(data: bytes) -> None:
    """The first byte picks the endpoint; the rest is the body (for login: the credentials)."""
    cloud = _cloud()
    routes = cloud.routes()
    method, url = routes[data[0] % len(routes)] if data else routes[0]
    body = data[1:]
    headers: list[tuple[bytes, bytes]] = [
        (cloud.header.encode(), cloud.token.encode()),
        (b"Content-Type", b"application/json"),
    ]
    if url == "/auth/login":
        headers = [(b"Authorization", b"Basic " + body.replace(b"\r", b"").replace(b"\n", b""))]
        body = b""
    response = cloud.runner.run(cloud.client.request(method, url, content=body, headers=headers))
    if response.status_code >= 500:
        raise CloudAnswerError(f"{method} {url}: {response.status_code} {response.text[:200]}")
    if response.status_code >= 400:
        answer = json.loads(response.content)
        if answer.get("code") != response.status_code or not answer.get("message"):
            raise CloudAnswerError(f"{method} {url}: error body {answer!r}")


INSTRUMENT: dict[str, tuple[str, ...]] = {
    "emu_scenario": ("hil.scenarios.loader", "hil.scenarios.model", "hil.scenarios.yaml_text"),
    "emu_cloud_bodies": ("mock_cloud",),
}
"""What coverage should guide, where it is not the emulator (the default): atheris
instruments these modules (imported up front), and nothing else that is slow to load."""

EMULATOR_TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("emu_contour_link", contour_link, (), "Contour HID OUT reports, E1381 link"),
        Target("emu_gatt_writes", gatt_writes, (), "GLS/CGMS/IDS control point and clock writes"),
        Target("emu_minimed", minimed_messages, (), "MiniMed envelopes, NGP, ComD to CNL/pump"),
        Target("emu_usbip_server", usbip_server, (), "USB/IP IMPORT and URB stream to the server"),
        Target(
            "emu_usb_capture",
            usb_capture_file,
            (usb_capture.CaptureFormatError,),
            "usbmon/USBPcap capture files",
        ),
        Target(
            "emu_hci_capture", hci_capture_file, (hci_capture.CaptureError,), "HCI capture files"
        ),
        Target("emu_scenario", scenario_file, (), "scenario YAML files"),
        Target("emu_cloud_bodies", cloud_bodies, (), "mock cloud request bodies and credentials"),
    )
}
