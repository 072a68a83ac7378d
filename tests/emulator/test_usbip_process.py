"""``diahil emulate contour-usb --usbip``: options, the identity it prints when ready, and
``--json`` on every ``diahil emulate`` kind."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from emulator.cli import app
from emulator.usbip.process import UsbipEmulatorOptions, run


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["contour-usb"], "--usbip HOST:PORT is required"),
        (["contour-usb", "--usbip", "localhost"], "--usbip must be HOST:PORT"),
        (["contour-usb", "--usbip", "127.0.0.1:0", "--days", "0"], "--days"),
        (["contour-usb", "--usbip", "127.0.0.1:0", "--model", "Contour X"], "--model must be"),
        (["contour-usb", "--usbip", "127.0.0.1:0", "--timezone", "Mars/Base"], "--timezone"),
    ],
)
def test_bad_options_say_so_in_one_line(args: list[str], says: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0]


def test_a_port_in_use_says_why() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["contour-usb", "--usbip", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert f"error: cannot serve USB/IP on 127.0.0.1:{port}" in result.stderr


def _first_line(options: UsbipEmulatorOptions) -> str:
    out = io.StringIO()

    async def serve_then_stop() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run(options, out=out, stop=stop))
        while not out.getvalue():
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(serve_then_stop())
    return out.getvalue()


def test_ready_prints_the_identity_on_one_line() -> None:
    text = _first_line(UsbipEmulatorOptions("127.0.0.1", 0, seed=3, days=5, serial_number="S-1"))
    (line,) = text.splitlines()
    assert line.startswith("contour-usb: Contour Next USB serial S-1 firmware 01.24, ")
    assert " busid 1-1 (usbip://127.0.0.1:" in line and line.endswith("; ready")


def test_json_is_one_object_and_the_seed_chooses_the_history() -> None:
    def identity(seed: int) -> dict[str, object]:
        options = UsbipEmulatorOptions("127.0.0.1", 0, seed=seed, days=30, json=True)
        return dict(json.loads(_first_line(options)))

    first, again, other = identity(11), identity(11), identity(12)
    assert first["device"] == "contour-usb" and first["busid"] == "1-1"
    assert (first["seed"], first["days"], first["firmware"]) == (11, 30, "01.24")
    assert first["readings"] == again["readings"] != other["readings"]


def test_a_ble_emulator_prints_its_identity_as_json() -> None:
    command = [
        sys.executable, "-m", "emulator.cli", "gls-meter", "--hci", "tcp-server:127.0.0.1:0",
        "--seed", "4", "--days", "3", "--json",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert info["device"] == "gls-meter" and info["hci"].startswith("tcp-server:127.0.0.1:")
    assert (info["seed"], info["days"]) == (4, 3) and info["serial_number"] == info["serial"]
    assert process.returncode == 0
