"""USB/IP over loopback against the in-process emulated bus: round trips/s and a meter read.

1. Round trips: one 64-byte interrupt OUT write, then one 64-byte interrupt IN read of the
   device's echo, through plain pyusb: on the in-process ``EmulatedUsbBackend``, and through
   the uploader's USB/IP client to the emulator's ``UsbipServer`` on 127.0.0.1 (TCP).
2. A Contour meter read end to end (the uploader's device steps: detect, connect, identify,
   fetch) over both paths, from the uploader's own step timings, with the mock cloud in
   process.

Usage: ``python -m bench.usbip [--round-trips N] [--readings N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import usb.core
import usb.util

from bench.desk import bench_harness
from emulator.usb import EmulatedUsbBackend, VirtualUsbDevice
from emulator.usb import descriptors as d
from emulator.usb.device import EndpointStalled
from hil.devices import plug_contour_meter
from hil.usbip import serve_usbip, usbip_url
from uploader.transports.usbip import UsbipBackend, parse_usbip_url

DEVICE_STEPS = ("detect", "connect", "identify", "fetch", "disconnect")
TIMEZONE = "UTC"


class EchoDevice(VirtualUsbDevice):
    """A full-speed vendor device that answers every 64-byte OUT report on IN 0x81."""

    def __init__(self) -> None:
        self.device_descriptor = d.device_descriptor(0x1209, 0x0001, 0x0100)
        interface = (
            d.interface_descriptor(0, 0, 2, interface_class=0xFF)
            + d.endpoint_descriptor(0x81, d.EP_TYPE_INTERRUPT, 64, 1)
            + d.endpoint_descriptor(0x01, d.EP_TYPE_INTERRUPT, 64, 1)
        )
        self.configurations = (d.configuration_descriptor(1, interface, num_interfaces=1),)
        super().__init__()

    def handle_out(self, endpoint: int, data: bytes) -> None:
        if endpoint != 0x01:
            raise EndpointStalled()
        self.send_in(0x81, data)


def round_trips(backend: Any, count: int) -> float:
    """Round trips per second through pyusb on ``backend``."""
    dev = usb.core.find(backend=backend)
    assert dev is not None
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    payload = bytes(range(64))
    for _ in range(50):  # warm up
        dev.write(0x01, payload, 1000)
        dev.read(0x81, 64, 1000)
    started = time.perf_counter()
    for _ in range(count):
        dev.write(0x01, payload, 1000)
        if bytes(dev.read(0x81, 64, 1000)) != payload:
            raise AssertionError("the echo differs")
    elapsed = time.perf_counter() - started
    usb.util.dispose_resources(dev)
    return count / elapsed


def bench_round_trips(count: int, repeat: int) -> tuple[float, float]:
    local, remote = [], []
    for _ in range(repeat):
        bus = EmulatedUsbBackend()
        echo = bus.plug(EchoDevice())
        local.append(round_trips(bus, count))
        with serve_usbip(bus) as server:
            backend = UsbipBackend(parse_usbip_url(usbip_url(server, echo)))
            remote.append(round_trips(backend, count))
            backend.close()
    return statistics.median(local), statistics.median(remote)


def meter_read(readings: int, over_usbip: bool) -> tuple[float, int]:
    """Seconds the uploader's device steps took, and the records read."""
    bus = EmulatedUsbBackend()
    meter = plug_contour_meter(bus, TIMEZONE, count=readings, memory_capacity=readings)
    with bench_harness(TIMEZONE, usb_backend=bus) as harness:
        if over_usbip:
            with serve_usbip(bus) as server:
                result = harness.upload(usbip_url(server, meter.device))
        else:
            result = harness.upload(meter.device_spec)
    return sum(result.timings.get(s, 0.0) for s in DEVICE_STEPS), result.records_read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--readings", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    local, remote = bench_round_trips(args.round_trips, args.repeat)
    print("\n| path | 64-byte round trips/s |\n|---|---:|")
    print(f"| in-process bus (pyusb backend) | {local:,.0f} |")
    print(f"| USB/IP over loopback (client backend -> server) | {remote:,.0f} |")
    print(f"\nUSB/IP costs {local / remote:.1f}x per round trip ({1e6 / remote:.0f} us each).")
    print("\n| path | readings | device steps s | records/s |\n|---|---:|---:|---:|")
    for label, flag in (("in-process bus", False), ("USB/IP loopback", True)):
        runs = [meter_read(args.readings, flag) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        count = runs[0][1]
        print(f"| {label} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} |")


if __name__ == "__main__":
    main()
