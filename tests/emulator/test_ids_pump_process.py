"""``diahil emulate ids-pump`` as a process: options checked, and a central in this process
pairing with the pump over ``tcp-client:`` (passkey from the control endpoint), reading its
history with the IDD RACP and finding the control endpoint's ledger."""

from __future__ import annotations

import signal
import struct
import subprocess
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from bumble.transport import open_transport
from bumble.transport.common import TransportSink, TransportSource
from typer.testing import CliRunner

from emulator.ble.uuids import IDD_FEATURES, IDD_HISTORY_DATA, IDD_RECORD_ACCESS_CONTROL_POINT
from emulator.cli import app
from emulator.protocols import ids

if TYPE_CHECKING:
    from tests.emulator.conftest import Central

OpenCentral = Callable[[TransportSource, TransportSink], Awaitable["Central"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Olympus"], "--timezone must be an IANA timezone name"),
        (["--days", "0"], "--days must be at least 1"),
    ],
)
def test_bad_options_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["ids-pump", "--hci", "tcp-server:127.0.0.1:0", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def pump_process(
    emulator_process_with: Callable[..., tuple[subprocess.Popen[str], dict[str, str]]],
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    return emulator_process_with(
        "ids-pump", "--hci", "tcp-server:127.0.0.1:0", "--days", "2", "--seed", "5",
        "--timezone", "Europe/Berlin", "--e2e",
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_central_reads_a_pump_in_another_process(
    pump_process: tuple[subprocess.Popen[str], dict[str, str]], open_central: OpenCentral
) -> None:
    process, announced = pump_process
    assert announced["device"] == "ids-pump"
    assert announced["address"] == "F0:F0:F0:F0:F0:03"
    port = announced["hci"].rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=announced["control"]) as http:
        ledger = (await http.get("/ledger")).json()["records"]

        async def read_the_display() -> int:
            for _ in range(500):
                passkey = (await http.get("/display")).json()["passkey"]
                if passkey is not None:
                    return int(passkey)
            raise AssertionError("the pump never showed a passkey")

        transport = await open_transport(f"tcp-client:127.0.0.1:{port}")
        try:
            central = await open_central(transport.source, transport.sink)
            central.passkey = read_the_display
            link = await central.connect(announced["address"])
            await link.pair()
            assert await link.read(IDD_FEATURES) == ids.encode_features(e2e=True)
            events = await link.subscribe(IDD_HISTORY_DATA)
            answers = await link.subscribe(IDD_RECORD_ACCESS_CONTROL_POINT, indicate=True)
            await link.write(IDD_RECORD_ACCESS_CONTROL_POINT, ids.protect(bytes.fromhex("3333"), 1))
            answer = await answers.get()
            assert answer[:4] == bytes.fromhex("0f0f33f0")
            received = [events.get_nowait() for _ in range(events.qsize())]
            numbers = [struct.unpack_from("<I", value, 2)[0] for value in received]
            assert numbers == [record["record_number"] for record in ledger]
            assert ledger[0]["event"] == "ReferenceTime"
            await link.disconnect()
        finally:
            await transport.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
