"""atheris harness for the uploader's ble_basics parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(
        "ble_basics",
        ["uploader.protocols.ieee11073", "uploader.protocols.ble_time", "uploader.protocols.racp"],
    )
