"""Run every benchmark and print its table."""

from __future__ import annotations

from bench import contour_usb_e2e

if __name__ == "__main__":
    contour_usb_e2e.main()
