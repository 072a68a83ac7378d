"""The atheris runner for the emulator-side targets (bench/fuzz/emulator_targets.py).

Like bench/fuzz/runner.py (the uploader's), but instruments the emulator, or for the
scenario and cloud targets their modules (``INSTRUMENT``), so coverage guides the fuzzer
through the code under test and a harness starts in about a second. Every harness
``bench/fuzz/fuzz_emu_<target>.py`` calls :func:`fuzz`; libFuzzer options come from the
command line (``python -m bench.fuzz`` passes them).
"""

from __future__ import annotations

import importlib
import sys

import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]


def fuzz(name: str) -> None:
    with atheris.instrument_imports(include=["emulator"]):
        from bench.fuzz.emulator_targets import EMULATOR_TARGETS, INSTRUMENT
    modules = INSTRUMENT.get(name, ())
    if modules:
        with atheris.instrument_imports(include=list(modules)):
            for module in modules:
                importlib.import_module(module)
    from bench.fuzz.targets import check

    target = EMULATOR_TARGETS[name]

    def one_input(data: bytes) -> None:
        check(target, data)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
