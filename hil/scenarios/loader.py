"""Reading a scenario file: YAML (PyYAML) into ``hil.scenarios.model.Scenario``.

Every problem names the file, the line and the field, and what was expected, with a
suggestion for a typo: ``scenarios/x.yaml line 12: faults[2].at: unknown field
'after_recrod'; did you mean 'after_record'?``. Line numbers come from PyYAML's node marks
(the composed node tree is walked beside the data), so no round-trip parser is needed.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hil.scenarios.model import Scenario, reference_problems
from hil.scenarios.yaml_text import YamlProblem, read_yaml

Location = tuple[str | int, ...]


class ScenarioFileError(Exception):
    """A scenario file that cannot be used; the message names the line, field and fix."""


def _lines(node: yaml.Node, at: Location, found: dict[Location, int]) -> None:
    """Record the 1-based line of every key and item under ``node``."""
    found.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            where = (*at, str(key.value))
            found[where] = key.start_mark.line + 1
            _lines(value, where, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*at, index), found)


def _field_path(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(the file)"


def _model_at(location: Location) -> type[BaseModel] | None:
    """The pydantic model that the value at ``location`` is validated as."""
    model: type[BaseModel] | None = Scenario
    for part in location:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(error: Any) -> tuple[Location, str]:
    location: Location = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, name = location[:-1], str(location[-1])
        model = _model_at(parent)
        known = sorted(model.model_fields) if model else []
        hint = _suggest(name, known) or (f"; the fields are {', '.join(known)}" if known else "")
        return location, f"unknown field {name!r}{hint}"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
        given = str(error.get("input"))
        return location, f"expected {expected}, got {given!r}{_suggest(given, choices)}"
    if kind == "missing":
        return location, "required, and missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        message += f", got {given!r}"
    return location, message


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; ``ScenarioFileError`` for any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioFileError(f"{path}: cannot read it ({error.strerror or error}).") from None
    except UnicodeDecodeError:
        raise ScenarioFileError(f"{path}: not a text file (a scenario is YAML).") from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, name: str = "<scenario>") -> Scenario:
    """Validate scenario ``text``; ``name`` is how errors name the file."""
    try:
        node, data = read_yaml(text)
    except YamlProblem as bad:
        raise ScenarioFileError(f"{name} line {bad.line}: not valid YAML: {bad.message}") from None
    if not isinstance(data, dict) or node is None:
        raise ScenarioFileError(
            f"{name} line 1: a scenario is a YAML mapping (name:, devices:, runs: ...); "
            "see scenarios/README.md."
        )
    lines: dict[Location, int] = {}
    _lines(node, (), lines)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as invalid:
        found = [_describe(error) for error in invalid.errors()]
    else:
        found = reference_problems(scenario)
        if not found:
            return scenario
    problems = []
    for location, message in found:
        known = location
        while known not in lines and known:
            known = known[:-1]
        line = lines.get(known, 1)
        problems.append((line, f"{name} line {line}: {_field_path(location)}: {message}"))
    problems.sort(key=lambda p: p[0])
    raise ScenarioFileError("\n".join(text for _, text in problems))
