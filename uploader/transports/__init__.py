"""How the uploader reaches devices: pyusb for USB (bleak for Bluetooth LE comes later)."""
