"""pytest-xdist with device locks: two workers never hold one physical device at once."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from hil.device_lock import DeviceBusy, hold_device

RIG = """
name = "bench-x"

[devices.meter]
kind = "gls-meter"
url = "ble:F0:F0:F0:F0:F0:0A"
serial = "GLS-000000A"
"""

HOLDERS = """
import json, os, time
from pathlib import Path

import pytest

OUT = Path({out!r})


def test_workers_run_side_by_side():
    # both workers must be inside a test at once, or the run proves nothing
    (OUT / "{name}.here").write_text("")
    deadline = time.monotonic() + 60
    while not all((OUT / f"{{n}}.here").exists() for n in ("a", "b")):
        assert time.monotonic() < deadline, "the two workers never ran at the same time"
        time.sleep(0.01)


@pytest.mark.device("gls-meter")
@pytest.mark.parametrize("n", range(3))
def test_holds_the_meter(n, hil_device):
    began = time.time()
    time.sleep(0.15)
    (OUT / f"hold-{name}{{n}}.json").write_text(
        json.dumps({{"worker": os.getpid(), "began": began, "ended": time.time()}})
    )
"""


def test_two_workers_never_hold_the_same_device(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "holds"
    out.mkdir()
    # one file per worker (--dist=loadfile); each first waits until the other is running
    pytester.makepyfile(
        test_a=HOLDERS.format(out=str(out), name="a"), test_b=HOLDERS.format(out=str(out), name="b")
    )
    rig = pytester.path / "rig.toml"
    rig.write_text(RIG, encoding="utf-8")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:schemathesis", "-n", "2", "--dist=loadfile",
        "--hil-target=bench", f"--hil-rig={rig}", f"--hil-lock-dir={tmp_path / 'locks'}",
    )  # fmt: skip
    result.assert_outcomes(passed=8)
    holds = sorted(
        (json.loads(p.read_text()) for p in out.glob("hold-*.json")), key=lambda h: h["began"]
    )
    assert len(holds) == 6
    assert len({h["worker"] for h in holds}) == 2  # both workers held the meter in turn
    for earlier, later in itertools.pairwise(holds):
        assert later["began"] >= earlier["ended"], f"overlapping holds: {earlier} {later}"


def test_a_device_held_too_long_gives_a_clear_error(tmp_path: Path) -> None:
    with (
        hold_device(tmp_path, "GLS-1", holder="tests/a.py::test_first"),
        pytest.raises(DeviceBusy) as busy,
        hold_device(tmp_path, "GLS-1", holder="tests/b.py::test_second", timeout_s=0.1),
    ):
        pass
    assert "device GLS-1 is still held by pid" in str(busy.value)
    assert "tests/a.py::test_first" in str(busy.value)
    assert "--hil-lock-timeout" in str(busy.value)
    with hold_device(tmp_path, "GLS-1", holder="again", timeout_s=0.1):  # released
        pass
