"""Fuzz targets for the uploader's parsers: one entry point per parser, bytes in.

Each target feeds arbitrary bytes to one host-side parser of ``uploader`` the way the
drivers do (several values in a row where a driver reads several) and touches the derived
values a driver reads (times, units). The contract, checked by :func:`check`: a parser
returns a result or raises one of its documented, typed errors (``allowed``); any other
exception is a bug. The hypothesis tests (tests/fuzz/), the atheris harnesses (bench/fuzz/)
and the regression vectors (tests/vectors/fuzz/uploader/<target>/) all go through :func:`check`.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import usb.core

from uploader.errors import DeviceTimeout, UploaderError
from uploader.protocols import (
    astm_e1381,
    ble_time,
    cgms,
    contour_hid,
    contour_records,
    e2e_crc,
    gls,
    ids,
    ieee11073,
    minimed_history,
    minimed_link,
    minimed_pump,
    minimed_wizard,
    ngp,
    racp,
)
from uploader.transports import usb_descriptors, usbip

MAX_INPUT = 8192
"""Inputs are cut to this size: the parsers' bounds are far below it."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    """The typed errors the parser documents; anything else escaping is a bug."""
    what: str


class ContractViolation(AssertionError):
    """A parser raised an exception outside its contract."""


def check(target: Target, data: bytes) -> None:
    """Run ``target`` on ``data``; raise ``ContractViolation`` if it breaks the contract."""
    try:
        target.run(data[:MAX_INPUT])
    except target.allowed:
        return
    except Exception as exc:
        raise ContractViolation(
            f"{target.name}: {type(exc).__name__}: {exc} on input {data[:64].hex()}"
        ) from exc


def _values(data: bytes) -> Iterator[bytes]:
    """Split an input into values: each is a length byte followed by that many bytes."""
    pos = 0
    while pos < len(data):
        size = data[pos]
        yield data[pos + 1 : pos + 1 + size]
        pos += 1 + size


def _pick(data: bytes, count: int) -> tuple[int, bytes]:
    """The first byte chooses one of ``count`` sub-parsers; the rest is its input."""
    if not data:
        return 0, b""
    return data[0] % count, data[1:]


# --- Contour USB (HID reports, ASTM E1381 frames, E1394 records) -------------------------


class _Reports:
    """A packet link that plays back the input as 64-byte IN reports, then falls silent."""

    def __init__(self, data: bytes) -> None:
        self.reports = [data[i : i + 64] for i in range(0, len(data), 64)]

    def write(self, data: bytes, timeout_ms: int) -> None:
        pass

    def read(self, timeout_ms: int) -> bytes:
        if not self.reports:
            raise DeviceTimeout("no more reports")
        return self.reports.pop(0)


def contour_hid_receive(data: bytes) -> None:
    link = contour_hid.ContourHidLink(_Reports(data))
    while True:  # ends with the DeviceTimeout of the drained link
        link.receive()


class _Messages:
    def __init__(self, data: bytes) -> None:
        self.messages = list(_values(data))

    def send(self, payload: bytes) -> None:
        pass

    def receive(self, timeout_ms: int | None = None) -> bytes:
        if not self.messages:
            raise DeviceTimeout("no more messages")
        return self.messages.pop(0)


def astm_frames(data: bytes) -> None:
    choice, rest = _pick(data, 2)
    if choice == 0:
        astm_e1381.parse_frame(rest)
        return
    receiver = astm_e1381.E1381Receiver(_Messages(rest))
    receiver.establish()
    for _frame in receiver.frames():
        pass


def contour_records_parse(data: bytes) -> None:
    lines = data.decode("latin-1").split("\r")
    header = contour_records.parse_header(lines[0])
    _ = header.device_time, header.result_count
    for line in lines[1:]:
        contour_records.parse_record(line, header.delimiters)


# --- Bluetooth GATT values (GLS, CGMS, IDS) ----------------------------------------------


def sfloat_and_time(data: bytes) -> None:
    choice, rest = _pick(data, 3)
    if choice == 0:
        _ = ieee11073.decode_sfloat(rest).value
    elif choice == 1:
        ble_time.decode_date_time(rest)
    else:
        racp.parse_response(rest).describe()


def gls_values(data: bytes) -> None:
    for value in _values(data):
        choice, rest = _pick(value, 3)
        if choice == 0:
            measurement = gls.parse_measurement(rest)
            _ = measurement.user_facing_time, measurement.is_control_solution
        elif choice == 1:
            gls.parse_context(rest)
        else:
            gls.parse_feature(rest)


def cgms_values(data: bytes) -> None:
    for value in _values(data):
        choice, rest = _pick(value, 12)
        e2e = bool(choice & 1)
        kind = choice >> 1
        if kind == 0:
            cgms.parse_feature(rest)
        elif kind == 1:
            cgms.parse_measurements(rest, e2e)
        elif kind == 2:
            cgms.parse_session_start_time(rest, e2e)
        elif kind == 3:
            cgms.parse_session_run_time(rest, e2e)
        elif kind == 4:
            cgms.parse_status(rest, e2e)
        else:
            cgms.parse_socp_response(rest, e2e)
        e2e_crc.split_checked(rest)


def ids_values(data: bytes) -> None:
    records: list[ids.HistoryRecord] = []
    e2e = bool(data[:1]) and bool(data[0] & 0x80)
    for value in _values(data[1:]):
        choice, rest = _pick(value, 12)
        if choice <= 3:  # history data dominates a download
            records.append(ids.parse_history(rest, e2e))
        elif choice == 4:
            ids.parse_features(rest)
        elif choice == 5:
            ids.parse_status(rest, e2e)
        elif choice == 6:
            ids.parse_status_changed(rest, e2e)
        elif choice == 7:
            ids.parse_annunciation_status(rest, e2e)
        elif choice == 8:
            response = ids.parse_cp(rest, e2e)
            code = response.response_code()
            ids.describe_cp_code(code[1])
        elif choice == 9:
            ids.parse_racp(rest, e2e).describe()
        elif choice == 10:
            ids.parse_template_details(rest)
            ids.parse_activated_templates(rest)
        else:
            ids.parse_total_daily_insulin(rest)
            ids.parse_active_basal_delivery(rest)
            ids.parse_template_chunk(rest, 1 + (len(rest) % 3), 1 + (len(rest) % 8))
    joined = ids.join_events(records)
    for event in joined.events:
        if isinstance(event, ids.ReferenceTime):
            _ = event.local


# --- MiniMed 600 (Contour Next Link messages, NGP, pump frames, history) ----------------


def minimed_link_messages(data: bytes) -> None:
    choice, rest = _pick(data, 3)
    if choice == 0:
        minimed_link.decode_message(rest)
    elif choice == 1:
        minimed_link.parse_read_info(rest)
    else:
        serial = rest[:12].decode("latin-1")
        minimed_link.aes_key(rest[12:], serial)


def ngp_messages(data: bytes) -> None:
    choice, rest = _pick(data, 4)
    if choice == 0:
        ngp.decode_ngp(rest)
    elif choice == 1:
        ngp.parse_join_response(rest, 0x0023F70682010203, 0x0023F745EE040506)
    elif choice == 2:
        ngp.parse_transmit_response(rest)
    else:
        ngp.decode_frame(rest)


def minimed_pump_answers(data: bytes) -> None:
    choice, rest = _pick(data, 7)
    if choice == 0:
        _ = minimed_pump.parse_time(rest).local
    elif choice == 1:
        _ = minimed_pump.parse_status(rest).sensor_glucose_time.local
    elif choice == 2:
        minimed_pump.parse_basal_pattern(rest).name  # noqa: B018
    elif choice == 3:
        minimed_pump.parse_targets(rest)
    elif choice == 4:
        minimed_pump.parse_carb_ratios(rest)
    elif choice == 5:
        minimed_pump.parse_sensitivities(rest)
    else:
        minimed_wizard.parse_wizard_estimate(rest)


def minimed_history_data(data: bytes) -> None:
    choice, rest = _pick(data, 6)
    if choice == 0:
        info = minimed_history.parse_history_info(rest)
        _ = info.first.local, info.last.local
    elif choice == 1:
        minimed_history.parse_initiate(rest)
    elif choice == 2:
        minimed_history.parse_segment(rest)
        minimed_history.parse_nak(rest)
    elif choice == 3:
        for number, block in enumerate(minimed_history.parse_session(rest).blocks):
            minimed_history.block_data(block, number)
    elif choice == 4:
        for event in minimed_history.split_events(rest):
            _ = event.local
            if event.type == minimed_history.SENSOR_GLUCOSE_READINGS_EXTENDED:
                minimed_history.sensor_readings(event.body)
    else:
        minimed_history.sensor_readings(rest)


# --- USB descriptors and USB/IP replies --------------------------------------------------


def usb_descriptor_parse(data: bytes) -> None:
    choice, rest = _pick(data, 2)
    if choice == 0:
        usb_descriptors.parse_device_descriptor(rest)
    else:
        usb_descriptors.parse_configuration_descriptor(rest)


def usbip_devlist(data: bytes) -> None:
    """``list_exported`` against a loopback server that answers with ``data`` and hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(struct.calcsize(">HHI"))
                connection.sendall(data)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        try:
            usbip.list_exported("127.0.0.1", port, timeout_s=2.0)
        finally:
            thread.join(5.0)


_DEVICE_REPLY = struct.pack(
    ">HHI256s32sIIIHHHBBBBBB",
    0x0111,
    usbip.OP_REP_IMPORT,
    0,
    b"/sys/devices/fuzz",
    b"1-1",
    1,
    2,
    2,
    0x1A79,
    0x7410,
    0x0100,
    0,
    0,
    0,
    1,
    1,
    1,
)


class TooMuchData(Exception):
    """A transfer returned more bytes than it asked for."""


def usbip_urb_replies(data: bytes) -> None:
    """Import a device from a loopback server, then one control IN transfer (18 bytes) whose
    replies are ``data``; the server hangs up after sending it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(8 + 32)
                connection.sendall(_DEVICE_REPLY)
                connection.recv(48)
                connection.sendall(data)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        try:
            session = usbip.UsbipSession(usbip.UsbipAddress("127.0.0.1", port, "1-1"), 2.0)
            try:
                urb = session.control(0x80, 0x06, 0x0100, 0, 18, 2000)
                if len(urb.data) > 18:
                    raise TooMuchData(f"{len(urb.data)} bytes for an 18-byte read")
            finally:
                session.close()
        finally:
            thread.join(5.0)


_TYPED = (UploaderError,)

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("contour_hid", contour_hid_receive, _TYPED, "Contour HID IN reports"),
        Target(
            "astm_e1381",
            astm_frames,
            (astm_e1381.FrameError, UploaderError),
            "ASTM E1381 frames and a whole receive",
        ),
        Target("contour_records", contour_records_parse, _TYPED, "ASTM E1394 Contour records"),
        Target(
            "ble_basics",
            sfloat_and_time,
            (ValueError,),
            "SFLOAT, Date Time, RACP responses (documented ValueError)",
        ),
        Target("gls", gls_values, (gls.MeasurementError,), "Glucose Service values"),
        Target("cgms", cgms_values, (cgms.CgmValueError,), "CGM Service values, E2E-CRC"),
        Target(
            "ids",
            ids_values,
            (ids.IdsFormatError, ids.IntegrityError),
            "Insulin Delivery Service values, multi-part history events",
        ),
        Target("minimed_link", minimed_link_messages, _TYPED, "Contour Next Link messages"),
        Target("ngp", ngp_messages, _TYPED, "NGP messages and pump frames"),
        Target("minimed_pump", minimed_pump_answers, _TYPED, "pump answers, Bolus Wizard"),
        Target("minimed_history", minimed_history_data, _TYPED, "pump history sessions"),
        Target(
            "usb_descriptors",
            usb_descriptor_parse,
            (usb_descriptors.DescriptorError,),
            "USB device and configuration descriptors",
        ),
        Target(
            "usbip",
            usbip_devlist,
            (usbip.UsbipUnreachable,),
            "USB/IP OP_REP_DEVLIST replies",
        ),
        Target(
            "usbip_urb",
            usbip_urb_replies,
            (usb.core.USBError, usbip.UsbipUnreachable),
            "USB/IP RET_SUBMIT/RET_UNLINK replies to a transfer",
        ),
    )
}
