"""atheris harness for the uploader's cgms parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(
        "cgms",
        [
            "uploader.protocols.cgms",
            "uploader.protocols.e2e_crc",
            "uploader.protocols.ieee11073",
            "uploader.protocols.ble_time",
        ],
    )
