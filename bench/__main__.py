"""Run every benchmark, one after the other, and print their tables (``make bench``)."""

from __future__ import annotations

import sys

from bench import (
    ble_downloads,
    cloud_ingest,
    contour_usb_e2e,
    ids_pump,
    minimed600,
    tslim_x2,
    usbip,
)

if __name__ == "__main__":
    for name, entry in (
        ("contour_usb_e2e", contour_usb_e2e.main),
        ("ble_downloads", ble_downloads.main),
        ("ids_pump", ids_pump.main),
        ("minimed600", minimed600.main),
        ("tslim_x2", tslim_x2.main),
        ("cloud_ingest", cloud_ingest.main),
        ("usbip", usbip.main),
    ):
        print(f"\n== bench.{name} ==", flush=True)
        saved, sys.argv = sys.argv, [f"bench.{name}"]
        try:
            entry()
        finally:
            sys.argv = saved
