"""atheris harness for the uploader's minimed_pump parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("minimed_pump", ["uploader.protocols.minimed_pump", "uploader.protocols.minimed_wizard"])
