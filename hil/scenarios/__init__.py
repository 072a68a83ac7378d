"""Scenarios: field problems as YAML files that the whole system replays and judges.

``hil.scenarios.model`` is the format, ``hil.scenarios.loader`` reads a file (errors name
the line and the field), ``hil.scenarios.runner`` builds the emulated devices, mock cloud
and uploader and returns a ``Verdict``. ``diahil reproduce SCENARIO.yaml`` runs one;
``tests/hil/test_scenario_library.py`` runs the library in ``scenarios/``. On a bench rig,
``hil.scenarios.bench_plan`` says which scenarios it can play (and why not) and
``hil.scenarios.bench_runner`` plays them on rig.toml's devices.
"""

from hil.scenarios.loader import ScenarioFileError, load_scenario, parse_scenario
from hil.scenarios.model import Scenario
from hil.scenarios.runner import run_scenario
from hil.scenarios.verdict import Verdict

__all__ = [
    "Scenario",
    "ScenarioFileError",
    "Verdict",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]
