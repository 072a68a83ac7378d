"""Shared test configuration: the vectors directory and pytester for plugin tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

VECTORS = Path(__file__).parent / "vectors"


def load_vector(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def contour_frames() -> list[dict[str, Any]]:
    return list(load_vector("contour_usb/frames.json")["frames"])


@pytest.fixture(scope="session")
def contour_hid_messages() -> list[dict[str, Any]]:
    return list(load_vector("contour_usb/hid_reports.json")["messages"])


@pytest.fixture(scope="session")
def contour_session() -> dict[str, Any]:
    return dict(load_vector("contour_usb/session.json"))


@pytest.fixture(scope="session")
def ble_vectors() -> dict[str, Any]:
    """The Bluetooth service vectors, by file stem: sfloat, e2e_crc, gls, cgms."""
    return {name: load_vector(f"ble/{name}.json") for name in ("sfloat", "e2e_crc", "gls", "cgms")}
