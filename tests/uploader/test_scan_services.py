"""``diahil scan`` names every Bluetooth service that ``diahil upload`` has a driver for."""

from __future__ import annotations

from uploader.cli import KNOWN_SERVICES
from uploader.detect import BLE_DRIVERS
from uploader.protocols import tandem


def test_scan_names_every_service_upload_reads() -> None:
    missing = set(BLE_DRIVERS) - set(KNOWN_SERVICES)
    assert not missing, f"diahil scan would list these supported services unnamed: {missing}"
    assert KNOWN_SERVICES[tandem.SERVICE_UUID] == "Tandem t:slim X2"
