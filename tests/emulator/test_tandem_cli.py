"""``diahil emulate tslim-x2``: the pairing code option is checked before anything starts,
and the process builds a t:slim X2 showing the code it was given."""

from __future__ import annotations

from typer.testing import CliRunner

from emulator.ble.process import EmulatorOptions, build_device
from emulator.ble.tslim_x2 import TslimX2
from emulator.cli import app


def test_a_code_that_is_not_16_characters_is_refused() -> None:
    result = CliRunner().invoke(
        app, ["tslim-x2", "--hci", "tcp-server:127.0.0.1:0", "--passkey", "ABCD-1234"]
    )
    assert result.exit_code == 2
    assert "16" in result.output + (result.stderr if result.stderr_bytes else "")


def test_the_process_builds_a_pump_showing_the_code() -> None:
    device = build_device(
        EmulatorOptions(
            kind="tslim-x2",
            hci="tcp-server:127.0.0.1:0",
            days=1,
            pairing_code="WXYZ 2345 abcd 6789",
        )
    )
    assert isinstance(device, TslimX2)
    assert device.display == "WXYZ 2345 abcd 6789"
    assert device.code == "WXYZ2345abcd6789"
    assert device.pump.entries
