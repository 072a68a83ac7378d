"""Run one emulated BLE device as a process, until interrupted.

The device (a GLS meter, a CGM or an IDS insulin pump, built from a seed and a number of
days) goes on an ``Air``; a virtual controller on the same air is exported over a Bumble
transport moniker, so a Bumble host in another process (``tcp-client:...``) is its
central; a control endpoint (``emulator.control``) serves the display, the ledger and
faults. When everything is up the
process prints, and flushes, one ``key: value`` line each for ``device``, ``name``,
``address``, ``serial``, ``hci`` (the moniker actually served, with the real port when
asked for port 0) and ``control`` (the endpoint's URL), then a line ``ready``; with
``json`` (``--json``) instead one line, a JSON object with those keys and the device's
identity (model, serial number, firmware, seed, days). SIGINT or SIGTERM stops it cleanly
(exit status 0).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from emulator.ble import cgm_sensor, gls_meter, ids_pump
from emulator.ble.air import Air
from emulator.ble.cgm_sensor import CgmSensor
from emulator.ble.gls_meter import GlsMeter
from emulator.ble.ids_pump import IdsPump
from emulator.ble.quirks import CgmQuirks, GlsQuirks
from emulator.ble.tslim_x2 import TslimX2
from emulator.control import ControlServer, create_control_app
from emulator.devices.ble import (
    build_cgm_sensor,
    build_gls_meter,
    build_ids_pump,
    build_tslim_x2,
)
from emulator.process_run import StartupError, exit_status, stop_on_signals

KINDS = ("gls-meter", "cgm", "ids-pump", "tslim-x2")


@dataclass(frozen=True)
class EmulatorOptions:
    """What ``diahil emulate`` was asked for (validated by the command line)."""

    kind: str
    hci: str
    control_host: str = "127.0.0.1"
    control_port: int = 0
    passkey: int | None = None
    seed: int = 1
    days: int = 90
    e2e_crc: bool = False
    name: str | None = None
    address: str | None = None
    gls_quirks: GlsQuirks = field(default_factory=GlsQuirks)
    cgm_quirks: CgmQuirks = field(default_factory=CgmQuirks)
    timezone: str = "UTC"
    """IANA zone of the person (ids-pump: the pump's clock and daylight-saving changes)."""
    clock_changes: bool = True
    connection_interval_ms: float = 0.0
    pairing_code: str | None = None
    """tslim-x2: the 16-character code the pump shows (default: the emulator's fixed one)."""
    json: bool = False
    """Print the identity as one JSON line (instead of ``key: value`` lines and ``ready``)."""


def build_device(options: EmulatorOptions) -> GlsMeter | CgmSensor | IdsPump | TslimX2:
    if options.kind == "gls-meter":
        return build_gls_meter(
            seed=options.seed,
            days=options.days,
            passkey=options.passkey,
            quirks=options.gls_quirks,
            name=options.name or gls_meter.DEFAULT_NAME,
            address=options.address or gls_meter.DEFAULT_ADDRESS,
        )
    if options.kind == "cgm":
        return build_cgm_sensor(
            seed=options.seed,
            days=options.days,
            passkey=options.passkey,
            e2e_crc=options.e2e_crc,
            quirks=options.cgm_quirks,
            name=options.name or cgm_sensor.DEFAULT_NAME,
            address=options.address or cgm_sensor.DEFAULT_ADDRESS,
        )
    if options.kind == "ids-pump":
        return build_ids_pump(
            seed=options.seed,
            days=options.days,
            timezone=options.timezone,
            clock_changes=options.clock_changes,
            passkey=options.passkey,
            e2e=options.e2e_crc,
            name=options.name or ids_pump.DEFAULT_NAME,
            address=options.address or ids_pump.DEFAULT_ADDRESS,
            connection_interval_ms=options.connection_interval_ms,
        )
    if options.kind == "tslim-x2":
        return build_tslim_x2(
            seed=options.seed,
            days=options.days,
            timezone=options.timezone,
            clock_changes=options.clock_changes,
            name=options.name,
            address=options.address,
            pairing_code=options.pairing_code,
            connection_interval_ms=options.connection_interval_ms,
        )
    raise ValueError(f"unknown device kind {options.kind!r}: choose one of {', '.join(KINDS)}")


async def run(
    options: EmulatorOptions,
    *,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[GlsMeter | CgmSensor | IdsPump | TslimX2], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM); raises ``StartupError``."""
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        air = Air()
        device = build_device(options)
        control: ControlServer | None = None
        try:
            await device.start(air)
            try:
                hci = await air.export_hci(options.hci)
            except Exception as error:  # Bumble raises several kinds for a bad moniker
                raise StartupError(f"cannot serve HCI on {options.hci!r}: {error}") from None
            extra = {"device": options.kind, "hci": hci}
            control = ControlServer(
                create_control_app(device, extra), options.control_host, options.control_port
            )
            try:
                await control.start()
            except OSError as error:
                where = f"{options.control_host}:{options.control_port}"
                raise StartupError(
                    f"cannot serve the control endpoint on {where}: {error}"
                ) from None
            shown = (
                ("device", options.kind),
                ("name", device.name),
                ("address", device.address),
                ("serial", device.serial_number),
                ("hci", hci),
                ("control", control.url),
            )
            if options.json:
                identity: dict[str, object] = {**dict(shown), **device.identity()}
                identity.update(seed=options.seed, days=options.days)
                print(json.dumps(identity), file=out, flush=True)
            else:
                for key, value in shown:
                    print(f"{key}: {value}", file=out)
                print("ready", file=out, flush=True)
            if on_ready is not None:
                on_ready(device)
            await stop.wait()
        finally:
            if control is not None:
                await control.stop()
            await device.stop()
            await air.close()


def main(options: EmulatorOptions) -> int:
    """Run the process; the exit status (0 after a clean stop, 1 when it cannot start)."""
    return exit_status(run(options))
