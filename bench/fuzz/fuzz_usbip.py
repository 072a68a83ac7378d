"""atheris harness for the uploader's usbip parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("usbip", ["uploader.transports.usbip"])
