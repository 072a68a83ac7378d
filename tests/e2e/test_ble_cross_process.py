"""Bluetooth across processes: the emulator in its own process exports its radio over a
Bumble TCP transport; the uploader connects with ``tcp-client:`` as it would to a dongle."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hil.cli import app
from hil.cloud import CloudInspector, CloudServer, InProcessCloud
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from hil.processes import EmulatorProcess


@pytest.fixture
def emulated_meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "6", "--days", "30")
    yield process
    process.stop()


def test_scan_pair_download_upload_verify_across_processes(
    emulated_meter: EmulatorProcess, mock_cloud: InProcessCloud, tmp_path: Path, hil_timezone: str
) -> None:
    account = mock_cloud.create_account("kai@example.test", "process-pass-1")
    harness = UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "state.sqlite3",
        usb_backend=None,
        transport_factory=mock_cloud.transport,
        ble_transport=emulated_meter.hci_client,
        passkey=emulated_meter.read_display,
        ble_scan_timeout_s=3.0,
    )
    result = harness.upload("ble")  # found by scanning, the only meter advertising
    assert result.status == "uploaded"
    held = CloudInspector(mock_cloud.base_url, mock_cloud.transport()).data(account, type="smbg")
    expected = expected_smbg(emulated_meter.meter_model(), hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, held).assert_exact()

    async def no_code(_label: str) -> int:
        raise AssertionError("the bond is in the keystore file: no passkey needed")

    again = harness.upload(emulated_meter.device_spec, passkey=no_code)
    assert again.status == "no-new-data"


def test_the_command_line_with_a_fixed_bench_passkey(
    mock_cloud_server: CloudServer, tmp_path: Path
) -> None:
    meter = EmulatorProcess("gls-meter", "--seed", "7", "--days", "10", "--passkey", "246810")
    try:
        scan = CliRunner().invoke(
            app, ["scan", "--ble-transport", meter.hci_client, "--timeout", "1", "--json"]
        )
        assert scan.exit_code == 0, scan.output
        (found,) = json.loads(scan.stdout)
        assert (found["address"], found["supported"]) == (meter.info["address"], True)

        mock_cloud_server.create_account("lin@example.test", "bench-pass-1")
        upload = subprocess.run(
            [
                sys.executable, "-m", "hil.cli", "upload", meter.device_spec,
                "--ble-transport", meter.hci_client, "--passkey", "246810",
                "--cloud", mock_cloud_server.base_url, "--timezone", "Europe/Paris",
                "--email", "lin@example.test", "--password", "bench-pass-1",
                "--state", str(tmp_path / "state.sqlite3"), "--json",
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert upload.returncode == 0, upload.stderr + upload.stdout
        summary = json.loads(upload.stdout)
        assert summary["status"] == "uploaded"
        assert summary["device"]["serial_number"] == meter.info["serial"]

        wrong = subprocess.run(
            [
                sys.executable, "-m", "hil.cli", "upload", meter.device_spec,
                "--ble-transport", meter.hci_client, "--passkey", "135790",
                "--cloud", mock_cloud_server.base_url, "--timezone", "Europe/Paris",
                "--email", "lin@example.test", "--password", "bench-pass-1",
                "--state", str(tmp_path / "elsewhere" / "state.sqlite3"), "--json",  # no bond there
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert wrong.returncode == 4, wrong.stdout
        assert json.loads(wrong.stdout)["error"] == "PairingFailed"
    finally:
        meter.stop()
