"""atheris harness for emu_scenario (see bench.fuzz.emulator_targets)."""

from bench.fuzz.emulator_runner import fuzz

if __name__ == "__main__":
    fuzz("emu_scenario")
