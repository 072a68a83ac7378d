"""Finding the program that holds a USB device, from a /proc tree laid out as Linux does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from uploader.transports.usb import UsbDeviceInfo
from uploader.usb_diagnostics import busy, device_node, holders


def fake_proc(root: Path, processes: dict[int, tuple[str, list[str]]]) -> Path:
    for pid, (name, targets) in processes.items():
        fd = root / str(pid) / "fd"
        fd.mkdir(parents=True)
        (root / str(pid) / "comm").write_text(name + "\n")
        for number, target in enumerate(targets):
            os.symlink(target, fd / str(number))
    (root / "self").mkdir()  # not a process directory
    return root


def info(bus: int | None = 1, address: int | None = 4) -> UsbDeviceInfo:
    device: Any = None  # the diagnostics never touch the pyusb device
    return UsbDeviceInfo(0x1A79, 0x7410, bus, address, "7390-1", "Contour Next USB", device)


def test_the_process_holding_the_node_is_named(tmp_path: Path) -> None:
    node = device_node(1, 4)
    assert node == "/dev/bus/usb/001/004"
    proc = fake_proc(
        tmp_path,
        {
            311: ("bash", ["/dev/pts/0", "/dev/bus/usb/001/005"]),
            4242: ("glucofacts", ["/dev/null", node]),
        },
    )
    assert holders(node, proc) == ["glucofacts (pid 4242)"]
    error = busy(info(), "opening the device", proc)
    assert "glucofacts (pid 4242)" in error.message and "1a79:7410" in error.message
    assert error.hint == "Close glucofacts (pid 4242), then run the upload again."


def test_without_a_visible_holder_the_usual_suspects_are_named(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {12: ("sshd", ["/dev/null"])})
    error = busy(info(), "opening the device", proc)
    assert error.message.startswith("Another program or driver holds Contour Next USB")
    assert "GLUCOFACTS" in error.hint and "Tidepool Uploader" in error.hint
    assert holders("/dev/bus/usb/001/004", tmp_path / "missing") == []
    assert device_node(None, 4) is None
