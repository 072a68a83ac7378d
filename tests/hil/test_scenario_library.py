"""The scenario library (scenarios/*.yaml) as the regression suite: every field problem it
describes, replayed through emulated devices, the real uploader and a mock cloud, passes.

On ``--hil-target=bench`` each scenario plays on rig.toml's devices (``hil.scenarios.
bench_plan``), each held under its device lock; one that needs what the bench cannot do is
skipped with the reasons."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from hil.bench_devices import BenchRig
from hil.device_lock import hold_device
from hil.scenarios import load_scenario, run_scenario
from hil.scenarios.bench_cloud import bench_cloud
from hil.scenarios.bench_plan import plan_on_bench
from hil.scenarios.bench_runner import run_on_bench

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIOS = sorted(LIBRARY.glob("*.yaml"))


def test_the_library_holds_at_least_thirty_scenarios() -> None:
    assert len(SCENARIOS) >= 30


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(
    path: Path, tmp_path: Path, hil_rig: BenchRig | None, request: pytest.FixtureRequest
) -> None:
    scenario = load_scenario(path)
    if hil_rig is None:
        verdict = run_scenario(scenario, tmp_path)
    else:
        config = request.config
        with ExitStack() as stack:
            cloud = bench_cloud(hil_rig)
            stack.callback(cloud.close)
            plan = plan_on_bench(scenario, hil_rig, cloud.fault_api_missing())
            if not plan.playable:
                pytest.skip(f"{path.name}: " + "; ".join(plan.skips))
            for device in plan.devices.values():
                stack.enter_context(
                    hold_device(
                        Path(str(config.getoption("--hil-lock-dir"))),
                        device.lock_key,
                        holder=request.node.nodeid,
                        timeout_s=float(config.getoption("--hil-lock-timeout")),
                    )
                )
            verdict = run_on_bench(plan, tmp_path, cloud)
    assert verdict.passed, "\n".join(verdict.differences())


def test_every_scenario_is_listed_in_the_librarys_readme() -> None:
    readme = (LIBRARY / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in SCENARIOS if p.name not in readme]
    assert not missing, f"scenarios/README.md does not list {missing}"
