"""Turning validation failures into pointed, actionable problem entries.

A pydantic ``ValidationError`` becomes one ``Problem`` per failure, with a JSON pointer
(RFC 6901) naming the exact bad field (``/3/value``, ``/0/annotations/0/code``) and an
error code in the Tidepool platform's style (``value-out-of-range``, ``value-not-exists``,
...; compare reference/common/models/error.v2.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from mock_cloud.errors import Problem

PointerPart = str | int

TITLES: dict[str, str] = {
    "value-not-exists": "value does not exist",
    "value-null": "value is null",
    "field-unknown": "unknown field",
    "field-server-owned": "field is set by the server",
    "field-not-supported": "field is not supported yet",
    "type-not-string": "type is not string",
    "type-not-integer": "type is not integer",
    "type-not-number": "type is not number",
    "type-not-boolean": "type is not boolean",
    "type-not-array": "type is not array",
    "type-not-object": "type is not object",
    "value-not-allowed": "value is not one of the allowed values",
    "value-out-of-range": "value is out of range",
    "length-out-of-range": "length is out of range",
    "value-not-valid": "value is not valid",
    "value-duplicate": "value is a duplicate",
    "type-not-supported": "data type is not supported",
}

_PYDANTIC_CODES: dict[str, str] = {
    "missing": "value-not-exists",
    "extra_forbidden": "field-unknown",
    "string_type": "type-not-string",
    "int_type": "type-not-integer",
    "int_parsing": "type-not-integer",
    "int_from_float": "type-not-integer",
    "float_type": "type-not-number",
    "bool_type": "type-not-boolean",
    "list_type": "type-not-array",
    "dict_type": "type-not-object",
    "model_type": "type-not-object",
    "model_attributes_type": "type-not-object",
    "literal_error": "value-not-allowed",
    "enum": "value-not-allowed",
    "greater_than": "value-out-of-range",
    "greater_than_equal": "value-out-of-range",
    "less_than": "value-out-of-range",
    "less_than_equal": "value-out-of-range",
    "string_too_short": "length-out-of-range",
    "string_too_long": "length-out-of-range",
    "too_short": "length-out-of-range",
    "too_long": "length-out-of-range",
}

_NO_INPUT_ECHO = {"value-not-exists", "field-unknown", "field-server-owned", "field-not-supported"}


def pointer(parts: Sequence[PointerPart]) -> str:
    """A JSON pointer (RFC 6901) from path parts; the empty path is the whole document."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join("/" + part for part in escaped)


def label(parts: Sequence[PointerPart]) -> str:
    """A readable field name for messages: ``annotations[0].code``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "body"


def short_json(value: Any, limit: int = 60) -> str:
    """A JSON rendering of a client's value, cut short for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_problem(code: str, detail: str, parts: Sequence[PointerPart]) -> Problem:
    """One problem entry; the title comes from the code."""
    return {
        "code": code,
        "title": TITLES.get(code, "value is not valid"),
        "detail": detail,
        "source": {"pointer": pointer(parts)},
    }


def custom_error(code: str, message: str, *, echo_input: bool = True) -> PydanticCustomError:
    """An error to raise inside a pydantic validator, carrying our code and message as is.

    ``echo_input=False`` when ``message`` already quotes the client's value.
    """
    return PydanticCustomError(code, "{message}", {"message": message, "echo": echo_input})


ExtraFieldExplainer = Callable[[str], tuple[str, str]]
"""Given an unexpected field name, returns (code, detail) explaining why it is refused."""


def unknown_field(name: str) -> tuple[str, str]:
    """The default explanation: an unknown field, probably misspelt."""
    return "field-unknown", f"unknown field {name!r}; remove it or check its spelling"


def _detail(error: ErrorDetails, code: str, field: str) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"{field} is required"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{field} must be one of {expected} (got {short_json(error.get('input'))})"
    message = error["msg"]
    if message.startswith("Input should be "):
        message = "must be " + message[len("Input should be ") :]
    text = f"{field}: {message}"
    echo = (error.get("ctx") or {}).get("echo", True)
    if echo and code not in _NO_INPUT_ECHO and not isinstance(error.get("input"), dict | list):
        text += f" (got {short_json(error.get('input'))})"
    return text


def from_validation_error(
    error: ValidationError,
    prefix: Sequence[PointerPart] = (),
    explain_extra: ExtraFieldExplainer = unknown_field,
) -> list[Problem]:
    """One problem per failure in ``error``; pointers are prefixed with ``prefix``."""
    problems: list[Problem] = []
    for details in error.errors():
        parts = [*prefix, *details["loc"]]
        field = label(details["loc"])
        kind = details["type"]
        if kind == "extra_forbidden":
            name = str(details["loc"][-1]) if details["loc"] else field
            code, detail = explain_extra(name)
            problems.append(make_problem(code, detail, parts))
            continue
        code = _PYDANTIC_CODES.get(kind, kind if kind in TITLES else "value-not-valid")
        problems.append(make_problem(code, _detail(details, code, field), parts))
    return problems
