"""The support engineer's Bluetooth path, end to end: a user's upload with
``--capture FILE.btsnoop --support-bundle`` against a meter in another process (reached over
a Bumble HCI transport, as a dongle is), then ``diahil replay`` of the capture taken out of
the bundle, on the engineer's desk, with the meter gone: the same readings arrive, and
``diahil reproduce`` of the bundle puts the meter's ledger into a fresh cloud. And the
replay served to an uploader in another process (``diahil replay FILE --hci ...``)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from emulator.ble import GlsMeter
from hil.cli import build_app
from hil.cloud import CloudInspector, InProcessCloud
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from hil.processes import EmulatorProcess
from hil.reproduce import BundleProblem, reproduce
from uploader.ble_capture import BleCaptureFile
from uploader.cli import execute
from uploader.pairing import fixed_passkey

PASSKEY = "246810"


@pytest.fixture
def field_meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "12", "--days", "10", "--passkey", PASSKEY)
    yield process
    process.stop()


def test_capture_in_the_bundle_replays_on_the_desk(
    field_meter: EmulatorProcess,
    mock_cloud: InProcessCloud,
    hil_timezone: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = mock_cloud.create_account("field@example.test", "field-password-1")
    harness = UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "field" / "state.sqlite3",
        usb_backend=None,
        transport_factory=mock_cloud.transport,
        ble_transport=field_meter.hci_client,
        passkey=fixed_passkey(PASSKEY),
        ble_scan_timeout_s=3.0,
    )
    capture, bundle = tmp_path / "field" / "meter.btsnoop", tmp_path / "support.zip"
    options = harness.options(field_meter.device_spec)
    code = execute(options, as_json=True, support_bundle=bundle, capture=capture)
    uploaded = json.loads(capsys.readouterr().out)
    assert code == 0 and uploaded["status"] == "uploaded"
    model = field_meter.meter_model()
    field_meter.stop()  # the meter stays with the user

    with zipfile.ZipFile(bundle) as files:
        names = set(files.namelist())
        assert {"capture/meter.btsnoop", "capture.jsonl"} <= names
        held = files.read("capture/meter.btsnoop")
        texts = {n: files.read(n).decode(errors="replace") for n in names}
    assert held == capture.read_bytes() and held.startswith(b"btsnoop\0")
    assert all(PASSKEY not in text for text in texts.values())
    desk_copy = tmp_path / "desk" / "meter.btsnoop"
    desk_copy.parent.mkdir()
    desk_copy.write_bytes(held)

    replayed = CliRunner().invoke(
        build_app(),
        ["replay", str(desk_copy), "--timezone", hil_timezone, "--json", "--passkey", "000001"],
    )
    assert replayed.exit_code == 0, replayed.output
    body = json.loads(replayed.stdout)
    assert body["replay"]["complete"], body["replay"]["report"]
    assert body["new_datums"] == uploaded["new_datums"]
    assert body["device"]["serial_number"] == uploaded["device"]["serial_number"]

    # The user's cloud holds the meter's ledger; the replay read the same records.
    user_data = CloudInspector(mock_cloud.base_url, mock_cloud.transport()).data(
        account, type="smbg"
    )
    expected = expected_smbg(model, hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, user_data).assert_exact()
    assert body["records_read"] == uploaded["records_read"] == len(model.ledger())

    # `diahil reproduce` of the bundle itself: the same upload, the ledger in a fresh cloud.
    fresh = InProcessCloud()
    try:
        again = reproduce(bundle, tmp_path / "reproduce", cloud=fresh)
        assert again.reproduced, again.verdict()
        assert again.verdict().startswith("reproduced: the upload succeeded again")
        assert "Bluetooth" in again.device and again.divergence is None
        assert again.replayed.datums == uploaded["datums"] and again.account is not None
        in_fresh = CloudInspector(fresh.base_url, fresh.transport()).data(
            again.account, type="smbg"
        )
    finally:
        fresh.close()
    compare_with_ledger(expected, in_fresh).assert_exact()
    command = CliRunner().invoke(build_app(), ["reproduce", str(bundle), "--json"])
    assert command.exit_code == 0, command.output
    said = json.loads(command.stdout)
    assert said["reproduced"] is True and said["replayed"]["datums"] == uploaded["datums"]

    # Without the HCI capture (the user left out --capture, or the OS stack gave only a
    # GATT log) the bundle says what is missing and how to get it.
    gatt_log = BleCaptureFile(tmp_path / "desk" / "meter.btsnoop", "btsnoop")
    gatt_log.gatt("read", "00002a25-0000-1000-8000-00805f9b34fb", b"SN")
    (gatt_file,) = gatt_log.write()
    for kept, problem_text in (
        (None, "without an HCI capture"),
        (gatt_file, "meter.btsnoop.gatt.pcapng in .* holds no Bluetooth HCI packets"),
    ):
        stripped = tmp_path / "desk" / f"without-hci-{kept is None}.zip"
        with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(stripped, "w") as target:
            for name in source.namelist():
                if not name.startswith("capture"):
                    target.writestr(name, source.read(name))
            if kept is not None:
                target.write(kept, f"capture/{kept.name}")
        with pytest.raises(BundleProblem, match=problem_text) as problem:
            reproduce(stripped, tmp_path / "reproduce-stripped")
        assert "--capture FILE.btsnoop" in str(problem.value)


def test_a_replay_served_to_an_uploader_in_another_process(
    make_gls_meter: Any,
    ble_uploader: UploadHarness,
    tmp_path: Path,
) -> None:
    """``diahil replay FILE --hci tcp-server:...``: the replayed meter in its own process,
    reached by the uploader over a Bumble TCP transport, as an older uploader would be."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=13, days=5)
    capture = BleCaptureFile(tmp_path / "meter.pcapng", "pcapng")
    assert ble_uploader.upload_ble(meter, ble_snooper=capture.snooper).status == "uploaded"
    (written,) = capture.write()
    replaying = subprocess.Popen(
        [sys.executable, "-m", "hil.cli", "replay", str(written),
         "--hci", "tcp-server:127.0.0.1:0", "--passkey", PASSKEY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert replaying.stdout is not None
        said: dict[str, str] = {}
        for line in replaying.stdout:  # ends early if the process dies
            if line.strip() == "ready":
                break
            key, _, value = line.strip().partition(": ")
            said[key] = value
        assert "hci" in said, replaying.stderr.read() if replaying.stderr else said
        assert said["address"] == meter.peripheral.address and int(said["requests"]) > 5
        cloud = InProcessCloud()  # the engineer's: the meter is linked to the user's account
        try:
            desk = replace(
                ble_uploader,
                cloud_url=cloud.base_url,
                account=cloud.create_account("desk@example.test", "desk-password-1"),
                transport_factory=cloud.transport,
                state_path=tmp_path / "desk" / "state.sqlite3",
                ble_transport=said["hci"].replace("tcp-server", "tcp-client", 1),
                runner=None,
                passkey=fixed_passkey(PASSKEY),
            )
            result = desk.upload(meter.device_spec)
        finally:
            cloud.close()
        assert result.status == "uploaded"
        assert result.records_read == len(meter.peripheral.model.ledger())
        out, err = replaying.communicate(timeout=20)
    finally:
        if replaying.poll() is None:
            replaying.kill()
            replaying.communicate()
    assert replaying.returncode == 0, err
    assert "report: Replayed all" in out
