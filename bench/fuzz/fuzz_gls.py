"""atheris harness for the uploader's gls parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(
        "gls",
        ["uploader.protocols.gls", "uploader.protocols.ieee11073", "uploader.protocols.ble_time"],
    )
