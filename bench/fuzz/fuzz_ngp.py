"""atheris harness for the uploader's ngp parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("ngp", ["uploader.protocols.ngp"])
