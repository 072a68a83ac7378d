"""Reading a request body as JSON, refusing what could not be stored or answered later.

Besides malformed JSON this refuses what Python's ``json`` module would let through but the
storage or the response encoder could not handle: NaN and infinities (including number
literals too large for a float), lone UTF-16 surrogates, NUL characters (PostgreSQL text
cannot hold them) and absurd nesting. Every refusal is a 400 with a message saying what to
fix, never a 500 later on. (Bodies over the size limit are refused earlier, with a 413, by
``body_limit``.)
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from mock_cloud.errors import bad_request
from mock_cloud.problems import pointer

MAX_DEPTH = 32


class _NonFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"the number {text[:40]} (too large for a 64-bit float)")
    return value


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def describe_json_type(value: Any) -> str:
    """'an object', 'an array', 'a string', ... for messages about the wrong JSON type."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _check_string(text: str, where: list[str | int]) -> None:
    if "\x00" in text:
        raise bad_request(
            f"request body has a NUL character (\\u0000) in a string at {pointer(where) or '/'}; "
            "remove it"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(
            f"request body has an invalid unicode escape (a lone surrogate) at "
            f"{pointer(where) or '/'}; send well-formed UTF-8 text"
        ) from None


def check_storable(document: Any) -> None:
    """Refuse strings the storage cannot hold and nesting deeper than ``MAX_DEPTH``."""
    stack: list[tuple[Any, list[str | int]]] = [(document, [])]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise bad_request(
                f"request body is nested more than {MAX_DEPTH} levels deep at {pointer(where)}; "
                "flatten it"
            )
        if isinstance(value, str):
            _check_string(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, [*where, key])
                stack.append((item, [*where, key]))
        elif isinstance(value, list):
            stack.extend((item, [*where, index]) for index, item in enumerate(value))


def parse_json_bytes(raw: bytes) -> Any:
    """Parse a request body; raises a 400 ``ApiError`` explaining any problem."""
    if not raw.strip():
        raise bad_request(
            "request body is empty; send a JSON document with Content-Type: application/json"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_request(
            f"request body is not UTF-8 text (bad byte at offset {error.start}); send UTF-8 JSON"
        ) from None
    try:
        document = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
    except _NonFinite as error:
        raise bad_request(
            f"request body contains {error}, which is not a valid JSON number; "
            "send finite numbers only"
        ) from None
    except json.JSONDecodeError as error:
        raise bad_request(
            f"request body is not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except RecursionError:
        raise bad_request(
            f"request body is nested too deeply; at most {MAX_DEPTH} levels are accepted"
        ) from None
    except ValueError as error:
        raise bad_request(f"request body could not be read as JSON: {error}") from None
    check_storable(document)
    return document


async def read_json_body(request: Request) -> Any:
    """FastAPI dependency: the request body parsed as JSON (400 on any problem)."""
    return parse_json_bytes(await request.body())
