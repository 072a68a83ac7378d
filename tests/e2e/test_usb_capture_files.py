"""`diahil upload --capture FILE` on USB: usbmon pcap and pcapng files that Wireshark's own
decoder (tshark) reads field by field, and a USBPcap file of the same session it reads too.

The emulated Contour meter is read by the real uploader through pyusb; the files are what
the uploader wrote. tshark is Debian's `tshark` package: CI installs it (.ci/run), so a CI
run without it fails instead of skipping.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.faults import UnplugAfterBytes
from emulator.replay.usb_capture import read_usb_capture
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.system_programs import needs_program
from hil.usbpcap import write_usbpcap
from uploader.cli import execute

TSHARK = shutil.which("tshark")
pytestmark = needs_program("tshark", "tshark")  # skipped locally without it, fails in CI

FIELDS = (
    "frame.number",
    "usb.urb_type",
    "usb.transfer_type",
    "usb.endpoint_address",
    "usb.data_len",
    "usb.urb_status",
    "usb.bus_id",
    "usb.device_address",
    "usb.idVendor",
    "usb.idProduct",
    "usb.irp_info.direction",
    "usb.usbd_status",
    "usbhid.data",
    "usb.capdata",
)


def tshark(path: Path) -> list[dict[str, str]]:
    """Every frame of ``path`` as tshark decodes it: field name -> value ('' if absent)."""
    assert TSHARK is not None
    command = [TSHARK, "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    for name in FIELDS:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def payload(frame: dict[str, str]) -> bytes:
    text = (frame["usbhid.data"] or frame["usb.capdata"]).replace(":", "")
    return bytes.fromhex(text)


def record(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    path: Path,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, object]:
    code = execute(uploader.options(meter.device_spec), as_json=True, capture=path)
    output: dict[str, object] = json.loads(capsys.readouterr().out)
    output["exit_code"] = code
    return output


HEADER_RECORD = b"1H|\\^&||"
"""Frame number 1, then the start of the ASTM E1394 header record every Contour sends."""


@pytest.mark.parametrize("suffix", [".pcap", ".pcapng"])
def test_usbmon_capture_decodes_in_tshark(
    make_contour_meter: Callable[..., EmulatedUsbMeter],
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(days=3)
    path = tmp_path / f"session{suffix}"
    assert record(meter, uploader, path, capsys)["exit_code"] == 0
    frames = tshark(path)
    bus, address = str(meter.device.bus), str(meter.device.address)
    assert {(f["usb.bus_id"], f["usb.device_address"]) for f in frames} == {(bus, address)}

    # enumeration as the uploader did it: the device descriptor names the meter
    assert frames[0]["usb.transfer_type"] == "0x02" and frames[0]["usb.urb_type"] == "'S'"
    described = [f for f in frames if f["usb.idVendor"]]
    assert (described[0]["usb.idVendor"], described[0]["usb.idProduct"]) == ("0x1a79", "0x7410")

    interrupt = [f for f in frames if f["usb.transfer_type"] == "0x01"]
    submits_out = [f for f in interrupt if f["usb.endpoint_address"] == "0x01"]
    completes_in = [
        f
        for f in interrupt
        if f["usb.endpoint_address"] == "0x81" and f["usb.urb_type"] == "'C'" and payload(f)
    ]
    assert submits_out and all(f["usb.data_len"] == "64" for f in submits_out if payload(f))
    assert [f["usb.urb_type"] for f in interrupt[:2]] == ["'S'", "'C'"]  # one URB: S then C
    assert len(completes_in) > 10 and all(f["usb.data_len"] == "64" for f in completes_in)
    assert all(f["usb.urb_status"] == "0" for f in completes_in)
    # the meter's header record (ASTM E1394 "H") inside a HID report, as decoded by tshark
    inbound = b"".join(payload(f) for f in completes_in)
    assert HEADER_RECORD in inbound
    assert meter.model.serial_number.encode() in inbound
    # the first OUT report the uploader sent, byte for byte as our own reader sees it
    first_out = next(t for t in read_usb_capture(path).transfers if t.endpoint == 0x01)
    assert payload(submits_out[0]) == first_out.out_data


def test_an_unplugged_meter_shows_as_enodev_in_tshark(
    make_contour_meter: Callable[..., EmulatedUsbMeter],
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(days=30)
    meter.faults.add(UnplugAfterBytes(64 * 40))
    path = tmp_path / "unplugged.pcapng"
    output = record(meter, uploader, path, capsys)
    assert output["exit_code"] == 4 and output["error"] == "DeviceDisconnected"
    frames = tshark(path)
    completes = [f for f in frames if f["usb.urb_type"] == "'C'"]
    assert completes[-1]["usb.urb_status"] == "-19"  # -ENODEV, where the cable was pulled
    assert all(f["usb.urb_status"] == "-115" for f in frames if f["usb.urb_type"] == "'S'")


def test_a_usbpcap_file_of_the_session_decodes_in_tshark(
    make_contour_meter: Callable[..., EmulatedUsbMeter],
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(days=3)
    usbmon = tmp_path / "session.pcap"
    assert record(meter, uploader, usbmon, capsys)["exit_code"] == 0
    windows = write_usbpcap(read_usb_capture(usbmon).transfers, tmp_path / "windows.pcap")
    frames = tshark(windows)
    described = [f for f in frames if f["usb.idVendor"]]
    assert (described[0]["usb.idVendor"], described[0]["usb.idProduct"]) == ("0x1a79", "0x7410")
    interrupt_in = [
        f
        for f in frames
        if f["usb.transfer_type"] == "0x01"
        and f["usb.endpoint_address"] == "0x81"
        and f["usb.irp_info.direction"] == "0x01"  # PDO -> FDO: the completion
    ]
    timed_out = [f for f in interrupt_in if f["usb.usbd_status"] == "0xc0010000"]  # CANCELED
    delivered = [f for f in interrupt_in if f["usb.usbd_status"] == "0x00000000" and payload(f)]
    assert len(delivered) > 10 and all(f["usb.data_len"] == "64" for f in delivered)
    inbound = b"".join(payload(f) for f in delivered)
    assert HEADER_RECORD in inbound
    usbmon_timeouts = [t for t in read_usb_capture(usbmon).transfers if t.status == -110]
    assert len(timed_out) == len(usbmon_timeouts)
