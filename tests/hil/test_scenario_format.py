"""The scenario file format: a bad file gets an error naming its line and field (with a
suggestion for a typo), and a scenario whose expectation is wrong fails with the difference;
`diahil reproduce SCENARIO.yaml` exits 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hil.cli import app
from hil.scenarios import ScenarioFileError, load_scenario, parse_scenario, run_scenario

GOOD = """\
name: a meter uploads
devices:
  - id: meter
    kind: contour-usb
    count: 20
runs:
  - expect: {outcome: uploaded}
"""


def problem(text: str) -> str:
    with pytest.raises(ScenarioFileError) as raised:
        parse_scenario(text, "scenarios/x.yaml")
    return str(raised.value)


def test_a_good_file_parses() -> None:
    scenario = parse_scenario(GOOD)
    assert (
        scenario.devices[0].kind == "contour-usb" and scenario.runs[0].expect.cloud_check == "exact"
    )


def test_a_misspelt_field_names_its_line_and_suggests_the_right_one() -> None:
    faults = [
        "faults:",
        "  - kind: unplug",
        "  - kind: deny-access",
        "  - kind: disconnect",
        "    at: {run: 1, after_recrod: 12}",
    ]
    text = GOOD + "\n".join(faults) + "\n"
    assert problem(text) == (
        "scenarios/x.yaml line 12: faults[2].at.after_recrod: unknown field 'after_recrod'; "
        "did you mean 'after_record'?"
    )


def test_a_misspelt_value_suggests_the_right_one() -> None:
    message = problem(GOOD.replace("contour-usb", "contuor-usb"))
    assert message.startswith("scenarios/x.yaml line 4: devices[0].kind: expected ")
    assert message.endswith("did you mean 'contour-usb'?")


def test_a_wrong_type_says_what_was_given() -> None:
    message = problem(GOOD.replace("count: 20", "count: twenty"))
    assert message.startswith("scenarios/x.yaml line 5: devices[0].count: ")
    assert "'twenty'" in message


def test_a_missing_field_and_several_problems_are_all_named_in_line_order() -> None:
    text = "name: x\nruns:\n  - expect: {outcome: uploaded, cloud: exakt}\n"
    lines = problem(text).splitlines()
    assert lines[0] == "scenarios/x.yaml line 1: devices: required, and missing"
    assert lines[1].startswith("scenarios/x.yaml line 3: runs[0].expect.cloud: expected")
    assert lines[1].endswith("did you mean 'exact'?")


def test_an_unknown_error_class_and_a_dangling_device_are_named() -> None:
    text = GOOD.replace(
        "  - expect: {outcome: uploaded}",
        "  - device: metre\n    expect: {outcome: error, error: DeviceNotFund}",
    )
    lines = problem(text).splitlines()
    assert lines[0].startswith("scenarios/x.yaml line 8: runs[0].expect: unknown error class")
    text = GOOD.replace("  - expect: {outcome: uploaded}", "  - device: metre")
    assert problem(text) == (
        "scenarios/x.yaml line 7: runs[0].device: no device 'metre'; the devices are ['meter']"
    )


def test_a_fault_or_event_for_another_kind_of_device_is_named() -> None:
    text = GOOD + "events:\n  - {kind: bolus, at: 1}\nfaults:\n  - kind: reject-pairing\n"
    assert problem(text).splitlines() == [
        "scenarios/x.yaml line 9: events[0].kind: bolus is for ids-pump; meter is contour-usb",
        "scenarios/x.yaml line 11: faults[0].kind: reject-pairing is a Bluetooth fault; meter "
        "is a contour-usb",
    ]


def test_yaml_syntax_errors_and_non_mappings_name_the_line() -> None:
    assert problem("name: [unclosed\n").startswith("scenarios/x.yaml line 2: not valid YAML")
    assert problem("- just\n- a list\n").startswith(
        "scenarios/x.yaml line 1: a scenario is a YAML mapping"
    )


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="cannot read it"):
        load_scenario(tmp_path / "nope.yaml")


def test_a_wrong_expectation_fails_with_the_difference(tmp_path: Path) -> None:
    scenario = parse_scenario(GOOD.replace("{outcome: uploaded}", "{outcome: no-new-data}"))
    verdict = run_scenario(scenario, tmp_path)
    assert not verdict.passed
    (difference,) = verdict.differences()
    assert difference.startswith("run 1: outcome: expected no-new-data, got uploaded, ")


def test_a_fault_that_never_fires_fails_the_scenario(tmp_path: Path) -> None:
    text = GOOD + "faults:\n  - kind: unplug\n    at: {run: 1, after_bytes: 10000000}\n"
    verdict = run_scenario(parse_scenario(text), tmp_path)
    assert verdict.differences() == [
        "run 1: the unplug fault on meter never fired (the run never got there)"
    ]


def test_reproduce_runs_a_scenario_and_exits_with_its_verdict(tmp_path: Path) -> None:
    runner = CliRunner()
    good, bad, broken = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "broken.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("{outcome: uploaded}", "{outcome: error, exit_code: 3}"))
    broken.write_text(GOOD.replace("kind:", "knd:"))
    passed = runner.invoke(app, ["reproduce", str(good)])
    assert passed.exit_code == 0 and "PASSED" in passed.output
    failed = runner.invoke(app, ["reproduce", str(bad), "--json"])
    assert failed.exit_code == 1 and json.loads(failed.output)["passed"] is False
    unusable = runner.invoke(app, ["reproduce", str(broken), "--json"])
    assert unusable.exit_code == 2
    assert "line 4: devices[0].knd: unknown field 'knd'; did you mean 'kind'?" in unusable.output
