"""Support bundles after real uploads, good and failed: written every time, complete, and
free of every secret the run used (password, session tokens, the Authorization header,
the Bluetooth passkey), in every file of the zip."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.faults import UnplugAfterBytes
from emulator.replay.usb_capture import read_usb_capture
from hil.cloud import Account, InProcessCloud
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter
from hil.harness import UploadHarness
from uploader.capture import ExchangeCapture
from uploader.cli import execute
from uploader.runlog import RunLog
from uploader.session import UploadOptions
from uploader.support_bundle import BUNDLE_FILES, REDACTED, write_bundle


class RecordingTransport(httpx.AsyncBaseTransport):
    """The test's own view of the HTTP exchange: the secrets that crossed it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seen: set[str]) -> None:
        self.inner = inner
        self.seen = seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for header in ("Authorization", "X-Tidepool-Session-Token"):
            if header in request.headers:
                self.seen.add(request.headers[header])
        response = await self.inner.handle_async_request(request)
        token = response.headers.get("X-Tidepool-Session-Token")
        if token:
            self.seen.add(token)
        return response


def bundle_files(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as bundle:
        # capture files are binary: decoded leniently, still searched for secrets
        return {name: bundle.read(name).decode(errors="replace") for name in bundle.namelist()}


def assert_no_secrets(files: dict[str, str], secrets: set[str]) -> None:
    assert secrets, "the test must know the secrets it looks for"
    for name, text in files.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in {name}"


def options_with_recording(
    harness: UploadHarness, cloud: InProcessCloud, device: str, seen: set[str], **extra: Any
) -> UploadOptions:
    options = harness.options(device, **extra)
    options.cloud_transport = RecordingTransport(cloud.transport(), seen)
    return options


def run(
    options: UploadOptions,
    bundle: Path,
    capture: Path | None,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any]]:
    code = execute(options, as_json=True, support_bundle=bundle, capture=capture)
    return code, json.loads(capsys.readouterr().out)


def test_bundle_after_a_successful_upload_is_complete_and_has_no_secrets(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: set[str] = set()
    path = tmp_path / "out" / "bundle.zip"
    options = options_with_recording(uploader, mock_cloud, contour_meter.device_spec, seen)
    pcapng = tmp_path / "meter.pcapng"
    code, output = run(options, path, pcapng, capsys)
    assert code == 0 and output["status"] == "uploaded"

    files = bundle_files(path)
    assert set(files) == {*BUNDLE_FILES, "capture.jsonl", "capture/meter.pcapng"}
    with zipfile.ZipFile(path) as bundle:  # the capture file, as written beside the bundle
        assert bundle.read("capture/meter.pcapng") == pcapng.read_bytes()
    assert pcapng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header
    log = [json.loads(line) for line in files["log.jsonl"].splitlines()]
    finished = [e["step"] for e in log if e["event"] == "step-finished"]
    assert finished[:5] == ["login", "detect", "connect", "identify", "fetch"]
    assert {"upload", "verify", "save-state"} <= set(finished)
    assert all(e["seconds"] >= 0 for e in log if e["event"] == "step-finished")
    assert log[-1]["event"] == "finished" and log[-1]["status"] == "uploaded"
    device = json.loads(files["device.json"])
    assert device["serial_number"] == contour_meter.model.serial_number
    assert device["clock"] and device["clock_offset_s"] is not None
    versions = json.loads(files["versions.json"])
    assert versions["python"] and versions["libraries"]["pyusb"]
    settings = json.loads(files["settings.json"])
    assert settings["password"] == REDACTED and settings["device"] == contour_meter.device_spec
    state = json.loads(files["sync-state.json"])
    assert state["verified_records"] == output["datums"]
    assert state["recent_runs"][0]["status"] == "uploaded"
    outcome = json.loads(files["outcome.json"])
    assert (
        outcome["exit_code"] == 0
        and outcome["cloud"]["data_set_id"] == output["cloud"]["data_set_id"]
    )
    capture = [json.loads(line) for line in files["capture.jsonl"].splitlines()]
    reports_in = [c for c in capture if c.get("dir") == "in" and "hex" in c]
    assert len(reports_in) > 100 and all(len(c["hex"]) == 128 for c in reports_in)
    assert "Reproducing the run" in files["README.txt"]
    assert contour_meter.device_spec in files["README.txt"]  # the command to rerun it

    secrets = seen | {cloud_account.password}
    assert any(s.startswith("Basic ") for s in seen) and len(seen) >= 2  # auth + token
    assert_no_secrets(files, secrets)


def test_bundle_after_a_wrong_password(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: set[str] = set()
    wrong = "not-the-password-4711"
    path = tmp_path / "bundle.zip"
    options = options_with_recording(uploader, mock_cloud, "usb", seen, password=wrong)
    code, output = run(options, path, None, capsys)
    assert code == 5 and output["error"] == "AuthenticationFailed" and output["step"] == "login"
    assert [s["step"] for s in output["steps"]] == ["login"]

    files = bundle_files(path)
    assert set(files) == set(BUNDLE_FILES)
    outcome = json.loads(files["outcome.json"])
    assert (outcome["error"], outcome["step"], outcome["exit_code"]) == (
        "AuthenticationFailed",
        "login",
        5,
    )
    assert json.loads(files["device.json"])["identified"] is False
    assert "FAILED at step login" in files["README.txt"]
    basic = base64.b64encode(f"{uploader.account.email}:{wrong}".encode()).decode()
    assert_no_secrets(files, seen | {wrong, basic})


def test_bundle_after_the_meter_was_unplugged_mid_transfer(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))
    seen: set[str] = set()
    path = tmp_path / "bundle.zip"
    options = options_with_recording(uploader, mock_cloud, "usb", seen)
    pcap = tmp_path / "unplugged.pcap"
    code, output = run(options, path, pcap, capsys)
    assert code == 4 and output["error"] == "DeviceDisconnected" and output["step"] == "fetch"

    files = bundle_files(path)
    assert set(files) == {*BUNDLE_FILES, "capture.jsonl", "capture/unplugged.pcap"}
    last = read_usb_capture(pcap).transfers[-1]  # the capture file ends where the cable went
    assert last.status == -19 and last.transfer_type == 1  # -ENODEV, an interrupt transfer
    device = json.loads(files["device.json"])
    assert device["identified"] and device["serial_number"] == contour_meter.model.serial_number
    log = [json.loads(line) for line in files["log.jsonl"].splitlines()]
    assert any(e["event"] == "step-failed" and e["step"] == "fetch" for e in log)
    assert log[-1]["event"] == "error" and log[-1]["kept"]
    capture = [json.loads(line) for line in files["capture.jsonl"].splitlines()]
    assert "errno 19" in capture[-1]["error"]  # ENODEV: the cable was pulled here
    state = json.loads(files["sync-state.json"])
    assert state["verified_records"] == 0 and state["recent_runs"][0]["status"] == "failed"
    assert_no_secrets(files, seen | {cloud_account.password})


def test_bluetooth_bundle_has_the_gatt_exchange_and_no_passkey(
    gls_meter: EmulatedBleDevice[Any],
    ble_uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    tmp_path: Path,
) -> None:
    codes: list[int] = []

    async def read_code(label: str) -> int:
        code = await gls_meter.read_display(label)
        codes.append(code)
        return code

    seen: set[str] = set()
    capture, log = ExchangeCapture(), RunLog()
    overrides: dict[str, Any] = {
        "passkey": read_code,
        "ble_capture": capture.ble,
        "run_log": log,
        "cloud_transport": RecordingTransport(mock_cloud.transport(), seen),
    }
    result = ble_uploader.upload(gls_meter.device_spec, **overrides)
    assert result.status == "uploaded"
    options = ble_uploader.options(gls_meter.device_spec, **overrides)
    path = write_bundle(
        tmp_path / "ble.zip", options=options, log=log, result=result, capture=capture
    )

    files = bundle_files(path)
    assert set(files) == {*BUNDLE_FILES, "capture.jsonl"}
    entries = [json.loads(line) for line in files["capture.jsonl"].splitlines()]
    assert {"write", "notify"} <= {e["op"] for e in entries}
    racp = [e for e in entries if e["characteristic"].startswith("00002a52")]  # GLS RACP
    assert racp and racp[0]["op"] == "write"
    assert json.loads(files["settings.json"])["passkey"] == REDACTED
    assert len(codes) == 1
    assert_no_secrets(files, seen | {cloud_account.password, f"{codes[0]:06d}"})
