"""atheris harness for the uploader's contour_hid parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("contour_hid", ["uploader.protocols.contour_hid"])
