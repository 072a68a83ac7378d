"""A recorded USB session replayed through the real libusb with umockdev.

An emulated Contour meter is uploaded once with ``--capture FILE.pcap`` (the usbmon pcap the
uploader writes). Then the real ``diahil upload usb`` runs as a process, with no emulated
backend (on hardware it would open the meter through libusb from libusb-package), under
``umockdev-run``: the meter is a sysfs device in umockdev's test bed
(``hil.umockdev.device_description``, from the descriptors the capture recorded) and its
usbfs node answers from the capture. The upload must land in a fresh mock cloud (a real server on
loopback) exactly as the meter's ledger says (``hil.oracle``). A capture that stops halfway
must end in the uploader's timeout error with nothing sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt
import pytest

from emulator.replay.usb_capture import read_usb_capture
from emulator.replay.usb_device import ReplayUsbDevice
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from hil.system_programs import needs_program
from hil.umockdev import device_description, replayable_capture, umockdev_command
from uploader.cli import execute

pytestmark = needs_program("umockdev-run", "umockdev")


def record_session(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    path: Path,
    capsys: pytest.CaptureFixture[str],
) -> int:
    """``diahil upload DEVICE --capture FILE.pcap`` on the emulated bus; the datums sent."""
    code = execute(uploader.options(meter.device_spec), as_json=True, capture=path)
    output = json.loads(capsys.readouterr().out)
    assert code == 0 and output["status"] == "uploaded" and path.exists()
    return int(output["datums"])


def replay_upload(
    meter: EmulatedUsbMeter,
    capture: Path,
    cloud: CloudServer,
    account: Account,
    tmp_path: Path,
    timezone: str,
) -> subprocess.CompletedProcess[str]:
    replayable = tmp_path / "replay.pcap"
    address = replayable_capture(capture, replayable)
    assert (address.bus, address.devnum) == (meter.device.bus, meter.device.address)
    description = tmp_path / "meter.umockdev"
    recorded = ReplayUsbDevice(read_usb_capture(capture))  # its descriptors, as recorded
    assert recorded.device_descriptor == meter.device.device_descriptor
    description.write_text(device_description(recorded, address))
    upload = [sys.executable, "-m", "hil.cli", "upload", "usb", "--cloud", cloud.base_url]
    upload += ["--timezone", timezone, "--state", str(tmp_path / "state.sqlite3"), "--json"]
    upload += ["--device-timeout-ms", "1000"]
    env = {**os.environ, "DIAHIL_EMAIL": account.email, "DIAHIL_PASSWORD": account.password}
    return subprocess.run(
        umockdev_command(description, address, replayable, upload),
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def test_a_recorded_session_replays_through_libusb_into_the_cloud(
    make_contour_meter: Any,
    uploader: UploadHarness,
    mock_cloud_server: CloudServer,
    hil_timezone: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(seed=5, count=60)
    capture = tmp_path / "session.pcap"
    uploaded = record_session(meter, uploader, capture, capsys)
    account = mock_cloud_server.create_account("replay@example.test", "replay-pass-8812")

    run = replay_upload(meter, capture, mock_cloud_server, account, tmp_path, hil_timezone)

    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout)
    assert summary["status"] == "uploaded" and summary["datums"] == uploaded
    assert summary["device"]["serial_number"] == meter.model.serial_number
    held = CloudInspector(mock_cloud_server.base_url).data(account, type="smbg")
    comparison = compare_with_ledger(expected_smbg(meter.model, hil_timezone), held)
    assert comparison.assert_exact() == uploaded


def test_a_capture_that_ends_early_uploads_nothing(
    make_contour_meter: Any,
    uploader: UploadHarness,
    mock_cloud_server: CloudServer,
    hil_timezone: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The replay answers only what was recorded: a capture cut halfway (the meter stops
    answering) ends in a clear device error at the step it happened, and nothing is sent."""
    meter: EmulatedUsbMeter = make_contour_meter(seed=6, count=40)
    capture = tmp_path / "session.pcap"
    record_session(meter, uploader, capture, capsys)
    half = _truncated(capture, tmp_path / "half.pcap")
    account = mock_cloud_server.create_account("half@example.test", "half-pass-5531")

    run = replay_upload(meter, half, mock_cloud_server, account, tmp_path, hil_timezone)

    summary = json.loads(run.stdout)
    assert run.returncode == 4, run.stdout + run.stderr
    assert (summary["error"], summary["step"]) == ("DeviceTimeout", "fetch")
    assert CloudInspector(mock_cloud_server.base_url).data(account, type="smbg") == []


def _truncated(source: Path, target: Path) -> Path:
    """``source`` cut after its first half of records."""
    with source.open("rb") as stream:
        reader = dpkt.pcap.Reader(stream)
        records = list(reader)
        linktype = reader.datalink()
    with target.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=linktype, snaplen=0x40000)
        for ts, buf in records[: len(records) // 2]:
            writer.writepkt(buf, ts=ts)
    return target
