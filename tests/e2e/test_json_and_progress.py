"""What CI and people see of an upload: the ``--json`` object (through the CLI's own
``execute`` and through ``diahil upload``), the progress bars and the closing summary."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hil.cli import app
from hil.cloud import CloudServer
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison
from uploader.cli import execute
from uploader.console_output import RichProgress, print_summary

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]
ERROR_KEYS = {"status", "error", "step", "message", "kept", "hint", "exit_code", "steps"}


def run_json(harness: UploadHarness, capsys: pytest.CaptureFixture[str], **extra: Any) -> Any:
    code = execute(harness.options("usb", **extra), as_json=True)
    body = json.loads(capsys.readouterr().out)  # one object, nothing else on stdout
    assert body["exit_code"] == code
    return body


def test_json_of_an_upload_and_of_the_rerun(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = run_json(uploader, capsys)
    ledger = contour_meter.model.ledger()
    assert first["status"] == "uploaded" and first["exit_code"] == 0
    assert first["records_read"] == len(ledger)
    held = ledger_check(contour_meter).assert_exact()  # the counts are the cloud's truth
    assert first["new_datums"] == first["datums"] == first["by_type"]["smbg"] == held
    assert first["created"] == first["new_datums"] and first["duplicates"] == 0
    assert first["cloud"]["data_set_id"] and first["cloud"]["user_id"]
    assert first["device"]["serial_number"] == contour_meter.model.serial_number
    assert first["device"]["clock"] is not None
    assert first["verification"]["ok"] is True
    assert isinstance(first["notes"], list)
    steps = first["steps"]
    assert [s["step"] for s in steps][:5] == ["login", "detect", "connect", "identify", "fetch"]
    assert {"upload", "verify", "save-state"} <= {s["step"] for s in steps}
    assert all(s["outcome"] == "ok" and s["seconds"] >= 0 for s in steps)
    assert set(first["timings_s"]) == {s["step"] for s in steps}

    again = run_json(uploader, capsys)
    assert (again["status"], again["exit_code"], again["new_datums"]) == ("no-new-data", 0, 0)
    assert again["cloud"]["data_set_id"] is None
    assert "upload" not in {s["step"] for s in again["steps"]}


def test_json_of_a_failure_names_the_step_and_the_steps_before_it(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    contour_meter.unplug()
    body = run_json(uploader, capsys)
    assert set(body) == ERROR_KEYS
    assert (body["status"], body["error"], body["step"], body["exit_code"]) == (
        "error",
        "DeviceNotFound",
        "detect",
        3,
    )
    assert [(s["step"], s["outcome"]) for s in body["steps"]] == [
        ("login", "ok"),
        ("detect", "failed"),
    ]
    assert body["kept"] and body["hint"]


def test_diahil_upload_json_through_the_command_line(
    mock_cloud_server: CloudServer, tmp_path: Path
) -> None:
    """The real command with the real libusb: no meter on this machine, so exit 3 (or 3 with
    libusb unable to start); the JSON object is complete either way."""
    mock_cloud_server.create_account("ci@example.test", "ci-password-123")
    args = ["upload", "usb", "--cloud", mock_cloud_server.base_url, "--timezone", "UTC",
            "--email", "ci@example.test", "--password", "ci-password-123", "--json",
            "--state", str(tmp_path / "state.sqlite3")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    body = json.loads(result.stdout)
    assert set(body) == ERROR_KEYS and body["exit_code"] == 3 and body["step"] == "detect"
    assert body["steps"][0] == {**body["steps"][0], "step": "login", "outcome": "ok"}
    assert "ci-password-123" not in result.output


def test_progress_bars_show_records_and_rate_and_the_summary_the_speed(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness
) -> None:
    screen = io.StringIO()
    progress = RichProgress(Console(file=screen, width=120))
    result = uploader.upload(progress=progress)
    progress.stop()
    lines = screen.getvalue().splitlines()
    reading = next(line for line in lines if line.startswith("Reading device"))
    uploading = next(line for line in lines if line.startswith("Uploading"))
    assert f"{result.records_read}/{result.records_read}" in reading and "rec/s" in reading
    assert f"{result.new_datums}/{result.new_datums}" in uploading and "rec/s" in uploading

    summary = io.StringIO()
    print_summary(result, Console(file=summary, width=200))
    text = summary.getvalue()
    assert f"Uploaded {result.new_datums} new datums" in text
    assert "records/s" in text and "datums/s" in text
    assert contour_meter.model.serial_number in text
