"""diahil emulator: the device side, the firmware of emulated diabetes devices.

A device is three separate parts:

- a *model* (``emulator.model``): identity, clock, battery, memory and the ledger of every
  record it holds, the truth that end-to-end tests compare the cloud against;
- a *protocol engine* (``emulator.protocols``): the device side of a real wire protocol,
  written from its specification;
- an *attachment*: how the host reaches it, a virtual USB device served through a pyusb
  backend exactly as libusb would serve real hardware (``emulator.usb``), or a Bluetooth LE
  peripheral on Bumble, on an in-process radio or behind an exported HCI (``emulator.ble``).

``emulator.devices`` assembles the three into devices that a test can plug in or switch on;
``emulator.cli`` runs a BLE device as a process with a control endpoint
(``emulator.control``). This package imports nothing else of the project's: it is the
device firmware.
"""
