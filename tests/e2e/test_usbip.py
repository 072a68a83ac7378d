"""End to end over USB/IP: the real uploader imports an emulated Contour meter through its own
userspace USB/IP client (``usbip://HOST:PORT/BUSID``), from the project's USB/IP server, in
this process and in an emulator process; the cloud is judged by the meter's own ledger.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import usb.core
import usb.util
from typer.testing import CliRunner

from emulator.faults import DelayInReport, UnplugAfterBytes
from emulator.usbip import UsbipServer
from hil.cli import build_app
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from hil.usbip import UsbipEmulatorProcess, serve_usbip, usbip_url
from uploader.errors import DeviceDisconnected, DeviceTimeout, Step, UsageError
from uploader.transports.usbip import (
    UsbipBackend,
    UsbipDeviceBusy,
    UsbipNotExported,
    UsbipUnreachable,
    list_exported,
    parse_usbip_url,
)

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]


@pytest.fixture
def usbip_server(contour_meter: EmulatedUsbMeter) -> Iterator[UsbipServer]:
    with serve_usbip(contour_meter.bus) as server:
        yield server


def test_upload_over_usbip_in_process_matches_the_ledger(
    contour_meter: EmulatedUsbMeter,
    usbip_server: UsbipServer,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
) -> None:
    url = usbip_url(usbip_server, contour_meter.device)
    assert url.endswith("/1-1")
    result = uploader.upload(url)
    assert result.status == "uploaded" and result.duplicates == 0
    assert result.records_read == len(contour_meter.model.ledger())
    ledger_check(contour_meter).assert_exact()
    assert usbip_server.submits > 100  # every report crossed USB/IP
    assert uploader.upload(url).status == "no-new-data"


def test_upload_over_usbip_from_an_emulator_process(
    uploader: UploadHarness, cloud_inspector: CloudInspector, cloud_account: Account
) -> None:
    emulator = UsbipEmulatorProcess("--seed", "7", "--days", "20", "--timezone", uploader.timezone)
    try:
        info = emulator.info
        assert (info["device"], info["model"], info["serial_number"], info["busid"]) == (
            "contour-usb",
            "Contour Next USB",
            "7390-2336773",
            "1-1",
        )
        assert info["seed"] == 7 and info["days"] == 20 and info["readings"] > 20
        host, port = info["usbip"].rsplit(":", 1)
        listed = list_exported(host, int(port))
        assert [(d.busid, d.vendor_id, d.product_id) for d in listed] == [("1-1", 0x1A79, 0x7410)]
        result = uploader.upload(emulator.device_spec)
        assert result.status == "uploaded" and result.records_read == info["readings"]
        held = cloud_inspector.data(cloud_account, type="smbg")
        expected = expected_smbg(emulator.meter_model(), uploader.timezone)
        compare_with_ledger(expected, held).assert_exact()
    finally:
        assert emulator.stop() == 0  # SIGTERM is a clean stop


def test_diahil_upload_usbip_through_the_command_line(
    contour_meter: EmulatedUsbMeter,
    usbip_server: UsbipServer,
    mock_cloud_server: CloudServer,
    hil_timezone: str,
    tmp_path: Path,
) -> None:
    account = mock_cloud_server.create_account("ci@example.test", "ci-password-123")
    args = ["upload", usbip_url(usbip_server, contour_meter.device),
            "--cloud", mock_cloud_server.base_url, "--timezone", hil_timezone,
            "--email", account.email, "--password", account.password, "--json",
            "--state", str(tmp_path / "state.sqlite3")]  # fmt: skip
    result = CliRunner().invoke(build_app(uploader_only=True), args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "uploaded"
    held = CloudInspector(mock_cloud_server.base_url).data(account, type="smbg")
    compare_with_ledger(expected_smbg(contour_meter.model, hil_timezone), held).assert_exact()


def test_devlist_lists_what_the_bus_holds(contour_meter: EmulatedUsbMeter) -> None:
    with serve_usbip(contour_meter.bus) as server:
        second = contour_meter.bus.plug(
            type(contour_meter.device)(contour_meter.model)  # a second meter, same family
        )
        listed = list_exported(server.host, server.port)
        assert [(d.busid, d.busnum, d.interfaces) for d in listed] == [
            ("1-1", 1, ((3, 0, 0),)),
            ("1-2", 1, ((3, 0, 0),)),
        ]
        contour_meter.bus.unplug(second)
        contour_meter.unplug()
        assert list_exported(server.host, server.port) == []


def test_a_stalled_meter_is_unlinked_and_the_rerun_completes(
    contour_meter: EmulatedUsbMeter,
    usbip_server: UsbipServer,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
) -> None:
    contour_meter.faults.add(DelayInReport(report=30, seconds=3.0))  # silent past the timeout
    url = usbip_url(usbip_server, contour_meter.device)
    with pytest.raises(DeviceTimeout) as caught:
        uploader.upload(url, device_timeout_ms=150)
    assert caught.value.step is Step.FETCH
    assert usbip_server.unlinks >= 1 and usbip_server.cancelled >= 1  # RET_UNLINK -ECONNRESET
    contour_meter.faults.clear()
    result = uploader.upload(url)  # the server reset the meter when the client let it go
    assert result.status == "uploaded" and result.duplicates == 0
    ledger_check(contour_meter).assert_exact()


def test_a_timed_out_read_raises_what_libusb_raises(
    contour_meter: EmulatedUsbMeter, usbip_server: UsbipServer
) -> None:
    backend = UsbipBackend(parse_usbip_url(usbip_url(usbip_server, contour_meter.device)))
    dev = usb.core.find(backend=backend)
    assert dev is not None
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    with pytest.raises(usb.core.USBTimeoutError) as caught:
        dev.read(0x81, 64, 50)  # the meter says nothing until asked
    assert (caught.value.errno, caught.value.backend_error_code) == (errno.ETIMEDOUT, -7)
    assert usbip_server.cancelled == 1
    dev.write(0x01, b"\x00" * 64, 1000)  # the session survives an unlink
    usb.util.dispose_resources(dev)


def test_connection_lost_mid_transfer_then_the_rerun_has_no_duplicates(
    contour_meter: EmulatedUsbMeter,
    usbip_server: UsbipServer,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    url = usbip_url(usbip_server, contour_meter.device)
    usbip_server.cut_after_submits(80)  # well inside the results
    with pytest.raises(DeviceDisconnected) as caught:
        uploader.upload(url)
    assert caught.value.step is Step.FETCH
    assert cloud_inspector.data(cloud_account) == []
    result = uploader.upload(url)
    assert result.status == "uploaded" and result.duplicates == 0
    ledger_check(contour_meter).assert_exact()


def test_a_meter_unplugged_on_the_server_is_enodev_and_the_rerun_is_exact(
    contour_meter: EmulatedUsbMeter,
    usbip_server: UsbipServer,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))
    with pytest.raises(DeviceDisconnected):
        uploader.upload(usbip_url(usbip_server, contour_meter.device))
    contour_meter.faults.clear()
    contour_meter.plug()
    result = uploader.upload(usbip_url(usbip_server, contour_meter.device))
    assert result.status == "uploaded" and result.duplicates == 0
    ledger_check(contour_meter).assert_exact()


def test_a_server_nobody_runs_is_a_clear_error(uploader: UploadHarness) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UsbipUnreachable) as caught:
        uploader.upload(f"usbip://127.0.0.1:{port}/1-1")
    assert caught.value.step is Step.DETECT
    assert f"Cannot reach the USB/IP server at 127.0.0.1:{port}" in caught.value.message
    assert "usbipd" in caught.value.user_message()


def test_a_busid_not_exported_names_what_is(
    contour_meter: EmulatedUsbMeter, usbip_server: UsbipServer, uploader: UploadHarness
) -> None:
    with pytest.raises(UsbipNotExported) as caught:
        uploader.upload(f"usbip://127.0.0.1:{usbip_server.port}/2-4")
    assert "does not export busid 2-4; it exports 1-1 (1a79:7410)" in caught.value.message
    assert "usbip list -r" in caught.value.user_message()


def test_a_device_imported_by_another_client_is_busy(
    contour_meter: EmulatedUsbMeter, usbip_server: UsbipServer, uploader: UploadHarness
) -> None:
    url = usbip_url(usbip_server, contour_meter.device)
    other = UsbipBackend(parse_usbip_url(url))
    dev = usb.core.find(backend=other)
    assert dev is not None
    handle = other.open_device(other.enumerate_devices()[0])  # another client holds it
    try:
        with pytest.raises(UsbipDeviceBusy) as caught:
            uploader.upload(url)
        assert "another client has imported it" in caught.value.message
    finally:
        other.close_device(handle)


@pytest.mark.parametrize(
    "spec", ["usbip://", "usbip://host:99999/1-1", "usbip://host:3240/", "usbip://host/usb1"]
)
def test_a_malformed_usbip_url_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match="usbip"):
        parse_usbip_url(spec)
