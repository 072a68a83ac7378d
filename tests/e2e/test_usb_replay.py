"""`diahil replay`: a recorded USB session answers the real uploader again.

A Contour meter session is recorded with `--capture FILE` (the uploader's own usbmon
capture), the meter is unplugged, and the recording alone is replayed through the uploader's
pyusb path into a fresh mock cloud: the cloud ends with what the original upload left, and
with the meter's ledger. An uploader that sends one different byte is caught at that byte;
a USBPcap (Windows) file and a usbmon file of the same session replay alike.
"""

from __future__ import annotations

import array
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from emulator.faults import UnplugAfterBytes
from emulator.replay.usb_capture import INTERRUPT, read_usb_capture
from emulator.replay.usb_device import ReplayError
from hil.cli import build_app
from hil.cloud import Account, CloudInspector, InProcessCloud
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from hil.replay_usb import REPLAY_DIVERGED, UsbReplayOutcome, replay_device, replay_usb
from hil.usbpcap import write_usbpcap
from uploader.cli import execute
from uploader.errors import DeviceDisconnected

SERVER_FIELDS = ("id", "uploadId", "createdTime", "modifiedTime")


def cloud_view(cloud: InProcessCloud, account: Account) -> list[dict[str, Any]]:
    """The cloud's smbg datums without what the server assigns (ids, creation times)."""
    held = CloudInspector(cloud.base_url, transport=cloud.transport()).data(account, type="smbg")
    kept = [{k: v for k, v in d.items() if k not in SERVER_FIELDS} for d in held]
    return sorted(kept, key=lambda d: (d["time"], d["value"]))


@pytest.fixture
def fresh_cloud() -> Iterator[tuple[InProcessCloud, Account]]:
    cloud = InProcessCloud()
    yield cloud, cloud.create_account("support@example.test", "replay-password-1")
    cloud.close()


def harness_for(uploader: UploadHarness, cloud: InProcessCloud, account: Account) -> UploadHarness:
    """The uploader's settings against another cloud, a new state file and no bus of its own."""
    return UploadHarness(
        cloud_url=cloud.base_url,
        account=account,
        timezone=uploader.timezone,
        state_path=uploader.state_path.with_name("replay-state.sqlite3"),
        usb_backend=None,
        transport_factory=cloud.transport,
        clock=uploader.clock,
    )


def record(meter: EmulatedUsbMeter, uploader: UploadHarness, path: Path) -> None:
    """The original session, through the CLI's own path, then the meter goes away."""
    assert execute(uploader.options(meter.device_spec), as_json=True, capture=path) == 0
    meter.unplug()  # from here on only the recording can answer


@pytest.fixture
def meter(make_contour_meter: Callable[..., EmulatedUsbMeter]) -> EmulatedUsbMeter:
    return make_contour_meter(seed=5, days=30)


def test_a_replayed_session_gives_the_same_cloud_result(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    fresh_cloud: tuple[InProcessCloud, Account],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capture = tmp_path / "field.pcapng"
    record(meter, uploader, capture)
    original = cloud_view(mock_cloud, cloud_account)
    expected = expected_smbg(meter.model, uploader.timezone)
    capsys.readouterr()

    cloud, account = fresh_cloud
    outcome = replay_usb(replay_device(capture), harness_for(uploader, cloud, account))
    assert outcome.divergence is None and outcome.error is None
    assert outcome.result is not None and outcome.result.status == "uploaded"
    assert outcome.device.remaining == 0  # every recorded transfer was asked for, in order
    assert outcome.result.device.serial_number == meter.model.serial_number

    replayed = cloud_view(cloud, account)
    assert replayed == original and len(replayed) == len(expected)
    held = CloudInspector(cloud.base_url, transport=cloud.transport()).data(account, type="smbg")
    compare_with_ledger(expected, held).assert_exact()


class ChangeOneByte:
    """A pyusb backend wrapper standing in for a changed uploader: its ``nth`` interrupt OUT
    report goes out with byte ``offset`` replaced by ``value``."""

    def __init__(self, inner: Any, nth: int, offset: int, value: int) -> None:
        self.inner, self.nth, self.offset, self.value = inner, nth, offset, value
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def intr_write(
        self, handle: Any, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        self.writes += 1
        if self.writes == self.nth:
            data = array.array("B", bytes(data))
            data[self.offset] = self.value
        return int(self.inner.intr_write(handle, ep, intf, data, timeout))


def test_a_changed_request_is_caught_at_its_byte(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    fresh_cloud: tuple[InProcessCloud, Account],
    tmp_path: Path,
) -> None:
    capture = tmp_path / "field.pcap"
    record(meter, uploader, capture)
    device = replay_device(capture)
    outs = [i for i, t in enumerate(device.script) if t.transfer_type == INTERRUPT and not t.is_in]
    third = device.script[outs[2]]
    changed = third.out_data[4] ^ 0xFF

    cloud, account = fresh_cloud
    outcome: UsbReplayOutcome = replay_usb(
        device,
        harness_for(uploader, cloud, account),
        usb_wrap=lambda backend: ChangeOneByte(backend, nth=3, offset=4, value=changed),
    )
    divergence = outcome.divergence
    assert divergence is not None
    assert divergence.transfer is third and divergence.request_number == outs[2] + 1
    assert divergence.offset == 4 and divergence.got == "OUT 0x01"
    report = divergence.describe()
    assert f"request {outs[2] + 1} " in report and f"transfer {third.number} " in report
    assert f"byte 4: expected 0x{third.out_data[4]:02x}, got 0x{changed:02x}" in report
    assert third.out_data[:8].hex(" ") in report  # the hex context around the byte
    assert isinstance(outcome.error, DeviceDisconnected)  # the replay stopped right there
    assert device.remaining == len(device.script) - outs[2]
    assert cloud_view(cloud, account) == []  # nothing of a diverged replay reached the cloud


def test_diahil_replay_reports_a_patched_capture_at_its_byte(
    meter: EmulatedUsbMeter, uploader: UploadHarness, tmp_path: Path
) -> None:
    capture = tmp_path / "field.pcap"
    record(meter, uploader, capture)
    recorded = read_usb_capture(capture)
    first_out = next(t for t in recorded.transfers if t.transfer_type == INTERRUPT and not t.is_in)
    # patch the recording: the uploader's first OUT report, byte 3, in the Submit record
    raw = bytearray(capture.read_bytes())
    submit = 24  # pcap file header
    for _ in range(first_out.frames[0] - 1):
        submit += 16 + struct.unpack_from("<I", raw, submit + 8)[0]
    raw[submit + 16 + 64 + 3] ^= 0x01
    capture.write_bytes(bytes(raw))

    result = CliRunner().invoke(
        build_app(), ["replay", str(capture), "--timezone", uploader.timezone, "--json"]
    )
    assert result.exit_code == REPLAY_DIVERGED, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "diverged"
    assert (report["transfer"], report["byte_offset"]) == (first_out.number, 3)
    assert f"capture frames {first_out.frames[0]}-{first_out.frames[1]}" in report["message"]
    got, expected = first_out.out_data[3], first_out.out_data[3] ^ 0x01
    assert f"byte 3: expected 0x{expected:02x}, got 0x{got:02x}" in report["message"]


def test_usbpcap_and_usbmon_files_of_a_session_replay_alike(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    tmp_path: Path,
) -> None:
    usbmon = tmp_path / "linux.pcap"
    record(meter, uploader, usbmon)
    windows = write_usbpcap(read_usb_capture(usbmon).transfers, tmp_path / "windows.pcap")
    original = cloud_view(mock_cloud, cloud_account)

    views = []
    for path in (usbmon, windows):
        cloud = InProcessCloud()
        account = cloud.create_account("support@example.test", "replay-password-1")
        try:
            harness = harness_for(uploader, cloud, account)
            harness.state_path = tmp_path / f"state-{path.stem}.sqlite3"
            outcome = replay_usb(replay_device(path), harness)
            assert outcome.divergence is None and outcome.result is not None
            assert outcome.result.status == "uploaded" and outcome.device.remaining == 0
            views.append(cloud_view(cloud, account))
        finally:
            cloud.close()
    assert read_usb_capture(windows).source == "USBPcap (Windows)"
    assert views[0] == views[1] == original
    expected = expected_smbg(meter.model, uploader.timezone)
    assert len(views[0]) == len(expected)


def test_a_recorded_unplug_happens_again_at_the_same_step(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    fresh_cloud: tuple[InProcessCloud, Account],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter.faults.add(UnplugAfterBytes(64 * 40))
    capture = tmp_path / "pulled.pcapng"
    assert execute(uploader.options(meter.device_spec), as_json=True, capture=capture) == 4
    original = json.loads(capsys.readouterr().out)

    cloud, account = fresh_cloud
    outcome = replay_usb(replay_device(capture), harness_for(uploader, cloud, account))
    assert outcome.divergence is None and outcome.device.remaining == 0
    assert isinstance(outcome.error, DeviceDisconnected)
    assert outcome.error.step is not None and outcome.error.step.value == original["step"]
    assert cloud_view(cloud, account) == []


def test_a_capture_without_enumeration_replays_with_the_named_model(
    meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    fresh_cloud: tuple[InProcessCloud, Account],
    tmp_path: Path,
) -> None:
    full = tmp_path / "full.pcap"
    record(meter, uploader, full)
    started_late = write_usbpcap(  # as if capturing began after the meter was plugged in
        [t for t in read_usb_capture(full).transfers if t.transfer_type == INTERRUPT],
        tmp_path / "late.pcap",
    )
    with pytest.raises(ReplayError, match="name the model"):
        replay_device(started_late)

    cloud, account = fresh_cloud
    device = replay_device(started_late, model="Contour Next USB")
    outcome = replay_usb(device, harness_for(uploader, cloud, account))
    assert outcome.divergence is None and outcome.result is not None
    assert outcome.result.status == "uploaded"
    assert outcome.result.device.serial_number == meter.model.serial_number  # from the records
    assert len(cloud_view(cloud, account)) == len(expected_smbg(meter.model, uploader.timezone))
