"""atheris harness for emu_gatt_writes (see bench.fuzz.emulator_targets)."""

from bench.fuzz.emulator_runner import fuzz

if __name__ == "__main__":
    fuzz("emu_gatt_writes")
