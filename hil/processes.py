"""Emulated devices in their own processes, as on a bench: ``diahil emulate ... --hci``.

``EmulatorProcess`` starts one (on free ports), waits until it says ``ready``, and talks to
its control endpoint over HTTP: the pairing code on its display, its ledger, its faults.
The uploader then reaches it across processes through a Bumble ``tcp-client:`` transport.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import httpx

from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag
from uploader.pairing import PasskeyProvider


class EmulatorProcess:
    def __init__(self, kind: str, *options: str, timeout_s: float = 20.0) -> None:
        self.command = [
            sys.executable, "-m", "emulator.cli", kind,
            "--hci", "tcp-server:127.0.0.1:0", "--control", "127.0.0.1:0", *options,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.info: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "ready":
                break
            key, _, value = line.partition(": ")
            self.info[key.strip()] = value.strip()
            if time.monotonic() > deadline:
                break
        if "control" not in self.info or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self.command}: {self.info}")

    @property
    def hci_client(self) -> str:
        """The Bumble moniker the uploader connects with (``tcp-client:127.0.0.1:PORT``)."""
        return self.info["hci"].replace("tcp-server", "tcp-client", 1)

    @property
    def device_spec(self) -> str:
        return f"ble:{self.info['address']}"

    def display(self) -> str | None:
        value = _get_json(self.info["control"] + "/display")["passkey"]
        return None if value is None else str(value)

    async def read_display(self, label: str) -> int:
        """A passkey provider: poll the control endpoint until the display shows a code."""
        return await control_display(self.info["control"], timeout_s=10.0)(label)

    def add_fault(self, fault: dict[str, Any]) -> None:
        httpx.post(self.info["control"] + "/faults", json=fault, timeout=5).raise_for_status()

    def meter_model(self) -> MeterModel:
        """The GLS meter's ledger as a model, for the oracle (mg/dL meters)."""
        return meter_model_from_control(self.info["control"])

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[str]) -> int:
    """SIGTERM (SIGKILL after 10 s), close its pipes; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return int(process.returncode)


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.json()


def control_display(control_url: str, timeout_s: float = 30.0) -> PasskeyProvider:
    """A passkey provider that reads the code an emulator's control endpoint displays."""

    async def read(_label: str) -> int:
        async with httpx.AsyncClient(base_url=control_url, timeout=5) as http:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                shown = (await http.get("/display")).json()["passkey"]
                if shown is not None:
                    return int(shown)
                await asyncio.sleep(0.02)
        raise TimeoutError(f"{control_url}: the device never showed a pairing code")

    return read


def meter_model_from_control(control_url: str) -> MeterModel:
    """A GLS meter's ledger, read from its control endpoint, as a model for the oracle."""

    def get(path: str) -> Any:
        return _get_json(control_url + path)

    identity = get("/identity")
    model = MeterModel(
        serial_number=identity["serial_number"],
        model_name=identity["model"],
        firmware_version=identity["firmware"],
        unit=GlucoseUnit.MG_DL,
        memory_capacity=100_000,
    )
    model.memory.extend(
        MeterReading(
            datetime.fromisoformat(r["device_time"]),
            r["value_mg_dl"],
            frozenset(ReadingFlag(f) for f in r["flags"]),
        )
        for r in get("/ledger")["records"]
    )
    return model
