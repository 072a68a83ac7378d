"""``diahil emulate`` as a process: the command line, and a central in this process pairing
with a meter in another one over ``tcp-client:``, reading the passkey from the control
endpoint."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from bumble.core import UUID
from bumble.transport import open_transport
from bumble.transport.common import TransportSink, TransportSource
from typer.testing import CliRunner

from emulator.ble.uuids import GLUCOSE_FEATURE, GLUCOSE_MEASUREMENT
from emulator.cli import app
from emulator.protocols import gls

if TYPE_CHECKING:
    from tests.emulator.conftest import Central

SERIAL = UUID.from_16_bits(0x2A25)
OpenCentral = Callable[[TransportSource, TransportSink], Awaitable["Central"]]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["gls-meter", "--hci", "tcp-server:127.0.0.1:0", "--passkey", "12345"], "--passkey"),
        (["gls-meter", "--hci", "tcp-server:127.0.0.1:0", "--passkey", "abcdef"], "6 digits"),
        (["gls-meter"], "--hci must be a Bumble transport moniker"),
        (["cgm", "--hci", "tcp-server:127.0.0.1:0", "--control", "localhost"], "HOST:PORT"),
        (["cgm", "--hci", "tcp-server:127.0.0.1:0", "--address", "F0:F0"], "--address"),
        (["cgm", "--hci", "tcp-server:127.0.0.1:0", "--days", "0"], "--days"),
        (
            ["gls-meter", "--hci", "tcp-server:127.0.0.1:0", "--connection-interval-ms", "-1"],
            "connection interval",
        ),
    ],
)
def test_bad_options_say_so_in_one_line(args: list[str], says: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0]


def test_a_device_that_cannot_start_says_why() -> None:
    result = CliRunner().invoke(app, ["cgm", "--hci", "no-such-transport:1"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot serve HCI on 'no-such-transport:1'")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["gls-meter", "--hci", "tcp-server:127.0.0.1:0", "--control", f"127.0.0.1:{port}"]
        )
    assert result.exit_code == 1
    assert f"cannot serve the control endpoint on 127.0.0.1:{port}" in result.stderr


@pytest.fixture
def emulator_process(
    emulator_process_with: Callable[..., tuple[subprocess.Popen[str], dict[str, str]]],
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    return emulator_process_with(
        "gls-meter", "--hci", "tcp-server:127.0.0.1:0", "--days", "3", "--seed", "5"
    )


@pytest.mark.anyio
async def test_a_central_pairs_with_an_emulator_in_another_process(
    emulator_process: tuple[subprocess.Popen[str], dict[str, str]], open_central: OpenCentral
) -> None:
    process, announced = emulator_process
    assert announced["device"] == "gls-meter"
    assert announced["address"] == "F0:F0:F0:F0:F0:01"
    port = announced["hci"].rsplit(":", 1)[1]
    control = announced["control"]
    async with httpx.AsyncClient(base_url=control) as http:
        ledger = (await http.get("/ledger")).json()["records"]

        async def read_the_display() -> int:
            for _ in range(500):
                passkey = (await http.get("/display")).json()["passkey"]
                if passkey is not None:
                    return int(passkey)
            raise AssertionError("the emulator never showed a passkey")

        transport = await open_transport(f"tcp-client:127.0.0.1:{port}")
        try:
            central = await open_central(transport.source, transport.sink)
            central.passkey = read_the_display
            link = await central.connect(announced["address"])
            await link.pair()
            assert await link.read(SERIAL) == announced["serial"].encode()
            assert await link.read(GLUCOSE_FEATURE) == gls.encode_feature()
            racp = await link.racp_channel(GLUCOSE_MEASUREMENT)
            received, response = await racp.ask(bytes([1, 1]))
            assert response == bytes.fromhex("06000101")
            assert [int.from_bytes(r[1:3], "little") for r in received] == [
                r["sequence"] for r in ledger
            ]
            await link.disconnect()
        finally:
            await transport.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
