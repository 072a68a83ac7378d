"""atheris harness for emu_cloud_bodies (see bench.fuzz.emulator_targets)."""

from bench.fuzz.emulator_runner import fuzz

if __name__ == "__main__":
    fuzz("emu_cloud_bodies")
