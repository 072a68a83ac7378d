"""atheris harness for the uploader's contour_records parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("contour_records", ["uploader.protocols.contour_records"])
