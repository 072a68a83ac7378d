"""atheris harness for the uploader's minimed_history parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(
        "minimed_history", ["uploader.protocols.minimed_history", "uploader.protocols.minimed_pump"]
    )
