"""atheris harness for the uploader's astm_e1381 parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("astm_e1381", ["uploader.protocols.astm_e1381"])
