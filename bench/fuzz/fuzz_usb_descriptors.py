"""atheris harness for the uploader's usb_descriptors parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("usb_descriptors", ["uploader.transports.usb_descriptors"])
