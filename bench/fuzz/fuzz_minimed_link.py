"""atheris harness for the uploader's minimed_link parser (see bench.fuzz.targets)."""

from bench.fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz("minimed_link", ["uploader.protocols.minimed_link"])
