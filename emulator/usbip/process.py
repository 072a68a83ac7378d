"""``diahil emulate contour-usb --usbip HOST:PORT``: an emulated Contour meter as a process.

The meter (seeded history, ``emulator.devices.contour_usb``) is plugged into an emulated USB
bus whose devices a ``UsbipServer`` exports over TCP (busid ``1-1``), so another process or
host imports it: the uploader's userspace client (``diahil upload usbip://HOST:PORT/1-1``) or
a Linux kernel (``usbip attach -r HOST -b 1-1``). A control endpoint (``emulator.control``)
serves the meter's identity, its ledger and its fault plan. When ready the process prints one
line with the device's identity (a JSON object with ``--json``); SIGINT/SIGTERM stop it
cleanly (exit status 0); a port that cannot be had exits with status 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from emulator.control import ControlServer, create_control_app
from emulator.devices.contour_usb import ASCENSIA_VID, ContourUsbMeter, build_contour_meter
from emulator.faults import FaultPlan
from emulator.model.clock import DeviceClock
from emulator.process_run import StartupError, exit_status, stop_on_signals
from emulator.usb import EmulatedUsbBackend
from emulator.usbip.server import UsbipServer, busid_of


@dataclass(frozen=True)
class UsbipEmulatorOptions:
    host: str
    port: int
    seed: int = 1
    days: int = 90
    serial_number: str = "7390-2336773"
    family: str = "Contour Next USB"
    firmware: str = "01.24"
    timezone: str = "UTC"
    control_host: str = "127.0.0.1"
    control_port: int = 0
    json: bool = False


class ControlledMeter:
    """The control endpoint's view of a Contour meter (it has no display)."""

    def __init__(self, meter: ContourUsbMeter) -> None:
        self.meter = meter

    @property
    def display(self) -> str | None:
        return None

    @property
    def faults(self) -> FaultPlan:
        return self.meter.faults

    def identity(self) -> dict[str, str]:
        model = self.meter.meter
        return {
            "manufacturer": "Bayer HealthCare LLC",
            "model": model.model_name,
            "serial_number": model.serial_number,
            "firmware": model.firmware_version,
            "vendor_id": f"{ASCENSIA_VID:04x}",
            "product_id": f"{self.meter.family.product_id:04x}",
        }

    def ledger_json(self) -> list[dict[str, object]]:
        return [
            {
                "device_time": r.device_time.isoformat(),
                "value_mg_dl": r.value_mg_dl,
                "flags": sorted(flag.value for flag in r.flags),
            }
            for r in self.meter.meter.ledger()
        ]


def build(options: UsbipEmulatorOptions) -> tuple[EmulatedUsbBackend, ContourUsbMeter]:
    """The bus with the meter plugged in (its clock in the person's timezone)."""
    zone = ZoneInfo(options.timezone)
    meter = build_contour_meter(
        options.serial_number,
        family=options.family,
        seed=options.seed,
        days=options.days,
        firmware_version=options.firmware,
        clock=DeviceClock(
            time_source=lambda: datetime.now(zone).replace(tzinfo=None, microsecond=0)
        ),
    )
    bus = EmulatedUsbBackend()
    bus.plug(meter)
    return bus, meter


def identity_line(info: dict[str, object]) -> str:
    return (
        f"{info['device']}: {info['model']} serial {info['serial_number']} firmware "
        f"{info['firmware']}, {info['readings']} readings; usbip {info['usbip']} busid "
        f"{info['busid']} ({info['url']}); control {info['control']}; ready"
    )


async def run(
    options: UsbipEmulatorOptions, *, out: TextIO | None = None, stop: asyncio.Event | None = None
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM); raises ``StartupError``."""
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        bus, meter = build(options)
        try:
            server = UsbipServer(bus, options.host, options.port).start()
        except OSError as error:
            where = f"{options.host}:{options.port}"
            raise StartupError(f"cannot serve USB/IP on {where}: {error}") from None
        host = f"[{options.host}]" if ":" in options.host else options.host
        extra = {"device": "contour-usb", "usbip": f"{host}:{server.port}"}
        control = ControlServer(
            create_control_app(ControlledMeter(meter), extra),
            options.control_host,
            options.control_port,
        )
        try:
            try:
                await control.start()
            except OSError as error:
                where = f"{options.control_host}:{options.control_port}"
                raise StartupError(
                    f"cannot serve the control endpoint on {where}: {error}"
                ) from None
            busid = busid_of(meter)
            info: dict[str, object] = {
                "device": "contour-usb",
                **ControlledMeter(meter).identity(),
                "readings": len(meter.meter.ledger()),
                "seed": options.seed,
                "days": options.days,
                "usbip": f"{host}:{server.port}",
                "busid": busid,
                "url": f"usbip://{host}:{server.port}/{busid}",
                "control": control.url,
            }
            print(json.dumps(info) if options.json else identity_line(info), file=out, flush=True)
            await stop.wait()
        finally:
            await control.stop()
            server.close()


def main(options: UsbipEmulatorOptions) -> int:
    """Run the process; the exit status (0 after a clean stop, 1 when it cannot start)."""
    return exit_status(run(options))
