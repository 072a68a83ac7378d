"""atheris harness for the uploader's ids parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(
        "ids",
        [
            "uploader.protocols.ids",
            "uploader.protocols.e2e_crc",
            "uploader.protocols.ieee11073",
            "uploader.protocols.ble_time",
        ],
    )
