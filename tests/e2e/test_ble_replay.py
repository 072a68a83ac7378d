"""Replay of a recorded Bluetooth LE session through the real uploader.

An emulated GLS meter (and a CGM, and an IDS pump) is uploaded over the uploader's Bumble
central with every HCI packet recorded (btsnoop / pcapng); the device is switched off, and a
replay of the capture (``emulator.replay.ble_replay``) advertises as it, serves its recorded
GATT database, pairs with a fixed passkey and answers as it did. The same uploader, into a
fresh cloud, must get the same result: the data of the original run, and the device's
ledger. A request that differs from the recording is reported at its byte, and
``diahil replay`` does all this from the command line.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from emulator.ble import GlsMeter
from emulator.faults import DisconnectAfterRecord, Fault, FaultPlan, RejectPairing
from emulator.replay.ble_replay import BleReplay
from hil.cli import build_app
from hil.cloud import Account, CloudInspector, InProcessCloud
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.oracle import compare_cbg_with_ledger, compare_with_ledger, expected_cbg, expected_smbg
from hil.pump_oracle import compare_pump_with_ledger, expected_pump
from uploader.ble_capture import BleCaptureFile, BleCaptureFormat
from uploader.errors import DeviceCommunicationError, Step, UploaderError
from uploader.pairing import fixed_passkey

REPLAY_PASSKEY = 314159


def record(
    meter: EmulatedBleDevice[Any], harness: UploadHarness, path: Path, fmt: BleCaptureFormat
) -> Path:
    capture = BleCaptureFile(path, fmt)
    assert harness.upload_ble(meter, ble_snooper=capture.snooper).status == "uploaded"
    (written,) = capture.write()
    meter.stop()  # the real meter leaves; only the replay advertises at its address
    return written


def replay(meter: EmulatedBleDevice[Any], capture: Path) -> BleReplay:
    replayed = BleReplay.from_file(capture, passkey=REPLAY_PASSKEY)
    assert replayed.address == meter.peripheral.address
    meter.world.run(replayed.start(meter.world.air))
    return replayed


def stable(data: list[dict[str, Any]]) -> list[str]:
    """The datums (not the upload record) without what each upload makes anew (ids, times)."""
    made_anew = {"id", "uploadId", "createdTime", "modifiedTime", "createdUserId"}
    return sorted(
        json.dumps({k: v for k, v in d.items() if k not in made_anew}, sort_keys=True)
        for d in data
        if d["type"] != "upload"
    )


def on_a_fresh_desk(harness: UploadHarness, tmp_path: Path, desk: InProcessCloud) -> UploadHarness:
    """``harness`` uploading into ``desk`` (a new cloud), with no bond and no cursor."""
    account = desk.create_account("support@example.test", "desk-password-2718")
    return replace(
        harness,
        cloud_url=desk.base_url,
        account=account,
        transport_factory=desk.transport,
        state_path=tmp_path / "desk" / "state.sqlite3",
    )


@pytest.mark.parametrize(("suffix", "fmt"), [(".btsnoop", "btsnoop"), (".pcapng", "pcapng")])
def test_a_replayed_gls_session_gives_the_same_cloud_result(
    suffix: str,
    fmt: BleCaptureFormat,
    make_gls_meter: Any,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
    tmp_path: Path,
) -> None:
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=6, days=20)
    capture = record(meter, ble_uploader, tmp_path / f"field{suffix}", fmt)
    original = cloud_inspector.data(cloud_account, type="smbg")
    replayed = replay(meter, capture)

    desk = InProcessCloud()  # the support engineer's cloud: nothing of the user's account
    try:
        harness = on_a_fresh_desk(ble_uploader, tmp_path, desk)  # no bond: pairs afresh
        result = harness.upload(meter.device_spec, passkey=fixed_passkey(f"{REPLAY_PASSKEY}"))
        assert replayed.complete, replayed.report()
        assert result.status == "uploaded"
        assert result.device.serial_number == meter.peripheral.serial_number
        again = CloudInspector(desk.base_url, desk.transport()).data(harness.account, type="smbg")
    finally:
        desk.close()
    assert replayed.recording.paired  # the capture had the pairing; the replay paired too
    dropped = [s for e in replayed.recording.exchanges for s in e.then if s.kind == "drop"]
    assert dropped == []  # the uploader ended the link itself: not a drop to replay
    assert stable(again) == stable(original) and len(again) > 0
    expected = expected_smbg(meter.peripheral.model, hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, again).assert_exact()


@pytest.mark.parametrize("kind", ["cgm", "ids-pump"])
def test_a_replayed_cgm_or_pump_session_gives_the_same_cloud_data(
    kind: str,
    make_cgm_sensor: Any,
    make_ids_pump: Any,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
    tmp_path: Path,
) -> None:
    """A CGMS sensor (measurements with E2E-CRC, RACP and Specific Ops Control Point
    indications, session start time) and an IDS pump (E2E-protected control points,
    status, settings, history by record number): recorded, then replayed."""
    device: EmulatedBleDevice[Any] = (
        make_cgm_sensor(seed=4, days=2, e2e_crc=True)
        if kind == "cgm"
        else make_ids_pump(seed=4, days=3, e2e=True)
    )
    capture = record(device, ble_uploader, tmp_path / f"{kind}.pcapng", "pcapng")
    original = cloud_inspector.data(cloud_account)
    replayed = replay(device, capture)
    desk = InProcessCloud()
    try:
        harness = on_a_fresh_desk(ble_uploader, tmp_path, desk)
        result = harness.upload(device.device_spec, passkey=fixed_passkey(f"{REPLAY_PASSKEY}"))
        again = CloudInspector(desk.base_url, desk.transport()).data(harness.account)
    finally:
        desk.close()
    assert replayed.complete, replayed.report()
    assert result.status == "uploaded" and result.records_read > 20
    assert stable(again) == stable(original)
    model = device.peripheral.model
    if kind == "cgm":
        cbg = [d for d in again if d["type"] == "cbg"]
        compare_cbg_with_ledger(expected_cbg(model), cbg).assert_exact()
    else:
        compare_pump_with_ledger(expected_pump(model, hil_timezone), again).assert_exact()


@pytest.mark.parametrize("fault", [DisconnectAfterRecord(12), RejectPairing()], ids=repr)
def test_a_recorded_failure_happens_again(
    fault: Fault, make_gls_meter: Any, ble_uploader: UploadHarness, tmp_path: Path
) -> None:
    """The field failure comes back on the desk: the meter dropped the link after record 12
    (the uploader saw the link go, at fetch), or refused pairing (at connect)."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=10, days=5, faults=FaultPlan([fault]))
    capture = BleCaptureFile(tmp_path / "failed.btsnoop", "btsnoop")
    with pytest.raises(UploaderError) as in_the_field:
        ble_uploader.upload_ble(meter, ble_snooper=capture.snooper)
    assert meter.faults.fired
    capture.write()
    meter.stop()
    replayed = replay(meter, capture.path)
    on_the_desk = replace(ble_uploader, state_path=tmp_path / "desk" / "state.sqlite3")
    with pytest.raises(UploaderError) as again:
        on_the_desk.upload(meter.device_spec, passkey=fixed_passkey(f"{REPLAY_PASSKEY}"))
    assert type(again.value) is type(in_the_field.value)
    assert again.value.step is in_the_field.value.step
    assert replayed.complete, replayed.report()


def test_a_different_request_is_reported_at_its_byte(
    make_gls_meter: Any, ble_uploader: UploadHarness, tmp_path: Path
) -> None:
    """The capture is patched where the uploader asked for all records (RACP Report Stored
    Records, operator All = 01 01): the recording now says operator 03 at byte 1."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=7, days=5)
    capture = record(meter, ble_uploader, tmp_path / "field.btsnoop", "btsnoop")
    data = capture.read_bytes()
    request = bytes([0x12, 0x18, 0x00, 0x01, 0x01])  # ATT Write Request, handle 0x0018, 01 01
    assert data.count(request) == 1
    capture.write_bytes(data.replace(request, request[:4] + b"\x03"))
    replayed = replay(meter, capture)

    fresh = replace(ble_uploader, state_path=tmp_path / "desk" / "state.sqlite3")
    with pytest.raises(DeviceCommunicationError) as failed:
        fresh.upload(meter.device_spec, passkey=fixed_passkey(f"{REPLAY_PASSKEY}"))
    assert failed.value.step is Step.FETCH

    divergence = replayed.divergence
    assert divergence is not None
    racp_writes = [
        e.number
        for e in replayed.recording.exchanges
        if e.kind == "write" and replayed.recording.key(e.handle) == "2a52"
    ]
    assert divergence.request == racp_writes[1]  # the second RACP write: the report request
    assert divergence.attribute == "handle 0x0018 (UUID 2a52)"
    assert (divergence.offset, divergence.expected, divergence.got) == (1, "0103", "0101")
    assert "byte 1 is 0x01, the recording has 0x03" in replayed.report()


def test_an_incremental_upload_diverges_from_a_full_read(
    make_gls_meter: Any, ble_uploader: UploadHarness, tmp_path: Path
) -> None:
    """A real uploader that sends a different request: with the sync state of the recorded
    run it first asks for the meter's newest record (RACP Report Stored Records, operator
    Last: 01 06) to find where to resume, where the recording counted all records (04 01)."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=8, days=5)
    capture = record(meter, ble_uploader, tmp_path / "field.pcapng", "pcapng")
    replayed = replay(meter, capture)
    with pytest.raises(DeviceCommunicationError):
        ble_uploader.upload(meter.device_spec, passkey=fixed_passkey(f"{REPLAY_PASSKEY}"))
    divergence = replayed.divergence
    assert divergence is not None
    first_racp = next(
        e for e in replayed.recording.exchanges if replayed.recording.key(e.handle) == "2a52"
    )
    assert divergence.request == first_racp.number
    assert (divergence.offset, divergence.expected, divergence.got) == (0, "0401", "0106")


def test_diahil_replay_replays_a_bluetooth_capture_and_reports_the_divergence(
    make_gls_meter: Any, ble_uploader: UploadHarness, hil_timezone: str, tmp_path: Path
) -> None:
    """``diahil replay FILE.btsnoop``: the uploader, a fresh cloud, the replayed meter."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=9, days=5)
    capture = record(meter, ble_uploader, tmp_path / "field.btsnoop", "btsnoop")
    uploadable = sum(not r.is_control for r in meter.peripheral.model.ledger())
    command = ["replay", str(capture), "--timezone", hil_timezone, "--json", "--passkey", "024680"]

    done = CliRunner().invoke(build_app(), command)
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["status"] == "uploaded" and body["new_datums"] == uploadable
    assert (
        body["replay"]["complete"] and body["replay"]["recorded_device"] == meter.peripheral.address
    )

    request = bytes([0x12, 0x18, 0x00, 0x01, 0x01])  # RACP Report Stored Records, All
    patched = tmp_path / "patched.btsnoop"
    patched.write_bytes(capture.read_bytes().replace(request, request[:3] + b"\x01\x05"))
    diverged = CliRunner().invoke(build_app(), [*command[:1], str(patched), *command[2:]])
    assert diverged.exit_code == 10, diverged.output
    report = json.loads(diverged.stdout)
    assert report["status"] == "diverged" and report["attribute"] == "handle 0x0018 (UUID 2a52)"
    assert (report["byte_offset"], report["expected"], report["got"]) == (1, "0105", "0101")

    not_a_capture = tmp_path / "notes.btsnoop"
    not_a_capture.write_text("not a capture")
    refused = CliRunner().invoke(build_app(), [*command[:1], str(not_a_capture), *command[2:]])
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"] == "ReplayError"

    gatt_log = BleCaptureFile(tmp_path / "phone.pcapng", "pcapng")  # the OS stack: no HCI
    gatt_log.gatt("write", "00002a52-0000-1000-8000-00805f9b34fb", bytes([0x01, 0x01]))
    (sidecar,) = gatt_log.write()
    explained = CliRunner().invoke(build_app(), [*command[:1], str(sidecar), *command[2:]])
    assert explained.exit_code == 2
    assert "--ble-transport usb:0" in json.loads(explained.stdout)["message"]
