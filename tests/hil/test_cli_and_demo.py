"""The ``diahil`` command line: the demo, the upload command's errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hil.cli import app
from hil.cloud import CloudServer

runner = CliRunner()


def real_meter_present() -> bool:
    import libusb_package
    import usb.core

    backend = libusb_package.get_libusb1_backend()
    return backend is not None and usb.core.find(idVendor=0x1A79, backend=backend) is not None


def test_demo_runs_end_to_end_and_matches_the_ledger() -> None:
    result = runner.invoke(app, ["demo", "--days", "5"])
    assert result.exit_code == 0, result.output
    assert "Uploaded" in result.output
    assert "No new data to upload" in result.output
    assert "exact" in result.output


def test_upload_without_credentials_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DIAHIL_EMAIL", raising=False)
    monkeypatch.delenv("DIAHIL_PASSWORD", raising=False)
    monkeypatch.delenv("DIAHIL_ACCOUNT", raising=False)
    monkeypatch.setenv("DIAHIL_STATE_DIR", str(tmp_path))  # no accounts there
    result = runner.invoke(
        app, ["upload", "usb", "--cloud", "http://127.0.0.1:9", "--timezone", "UTC"]
    )
    assert result.exit_code == 2
    assert "Missing --email, and no current account" in result.output
    assert "account add NAME" in result.output


def test_upload_errors_are_one_clear_message_and_an_exit_code() -> None:
    args = ["upload", "usb:zz:1", "--cloud", "http://127.0.0.1:9", "--timezone", "UTC",
            "--email", "a@b.test", "--password", "pw"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "not hexadecimal" in result.output
    assert "Traceback" not in result.output


def test_json_output_for_an_unreachable_cloud(tmp_path: Path) -> None:
    args = ["upload", "usb", "--cloud", "http://127.0.0.1:9", "--timezone", "Europe/Paris",
            "--email", "a@b.test", "--password", "pw", "--json", "--retries", "1"]  # fmt: skip
    result = runner.invoke(app, args, env={"DIAHIL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 6, result.output
    body = json.loads(result.stdout)
    assert body["error"] == "CloudUnavailable" and body["step"] == "login"
    assert "could not be reached" in body["message"]


def test_cloud_cli_adds_users(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cloud.sqlite3"
    first = runner.invoke(
        app, ["cloud", "add-user", "kim@example.test", "long-enough-pw", "--db", db]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        app, ["cloud", "add-user", "kim@example.test", "long-enough-pw", "--db", db]
    )
    assert again.exit_code != 0 and "Traceback" not in again.output


def test_upload_on_real_libusb_with_no_meter_says_so(
    mock_cloud_server: CloudServer, tmp_path: Path
) -> None:
    """Through the real libusb backend: exit 3 and a message, whether this machine has a USB
    bus (no meter found) or not (libusb cannot start), never a traceback."""
    server = mock_cloud_server
    server.create_account("lee@example.test", "long-enough-pw")
    args = ["upload", "usb", "--cloud", server.base_url, "--timezone", "UTC",
            "--email", "lee@example.test", "--password", "long-enough-pw",
            "--state", f"{tmp_path}/state.sqlite3"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "[detect]" in result.output
    assert "libusb could not start" in result.output or "No supported device" in result.output
    assert "Traceback" not in result.output
