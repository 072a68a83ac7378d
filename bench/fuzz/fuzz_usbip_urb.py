"""atheris harness for the uploader's usbip_urb parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("usbip_urb", ["uploader.transports.usbip"])
