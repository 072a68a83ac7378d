"""Reading query parameters strictly, with 400s that name the parameter.

Unknown parameters are refused (a misspelt filter would otherwise silently return
everything), single-valued parameters must appear once, lists are comma separated
(``type=smbg,cbg``, as reference/data/parameters/data-type.v1.yaml describes), booleans are
``true``/``false`` and dates are RFC 3339.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from starlette.datastructures import QueryParams

from mock_cloud.errors import bad_request
from mock_cloud.timestamps import RFC3339_EXAMPLE, parse_rfc3339


class QueryReader:
    """Typed, checked access to a request's query parameters."""

    def __init__(self, params: QueryParams, allowed: Iterable[str]) -> None:
        self._params = params
        allowed_names = sorted(set(allowed))
        for name in params:
            if name not in allowed_names:
                supported = ", ".join(allowed_names) or "none"
                raise bad_request(
                    f"unknown query parameter {name!r}; supported parameters: {supported}"
                )

    def single(self, name: str) -> str | None:
        """The parameter's one value, or None if absent."""
        values = self._params.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            raise bad_request(
                f"query parameter {name!r} was given {len(values)} times; give it once"
            )
        return values[0]

    def csv(self, name: str) -> list[str] | None:
        """A comma-separated list (repeats are merged), or None if absent."""
        values = self._params.getlist(name)
        if not values:
            return None
        items = [item.strip() for value in values for item in value.split(",")]
        if any(not item for item in items):
            raise bad_request(
                f"query parameter {name!r} has an empty item; give a comma-separated list "
                f"such as {name}=a,b"
            )
        return items

    def boolean(self, name: str, *, default: bool) -> bool:
        """``true`` or ``false`` (case-insensitive)."""
        value = self.single(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise bad_request(f"query parameter {name!r} must be true or false (got {value!r})")
        return lowered == "true"

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        """A decimal integer within ``minimum``..``maximum``."""
        value = self.single(name)
        if value is None:
            return default
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 12:
            raise bad_request(f"query parameter {name!r} must be an integer (got {value!r})")
        number = int(text)
        if not minimum <= number <= maximum:
            raise bad_request(
                f"query parameter {name!r} must be between {minimum} and {maximum} (got {number})"
            )
        return number

    def date_time(self, name: str) -> datetime | None:
        """An RFC 3339 date-time (aware, UTC), or None if absent."""
        value = self.single(name)
        if value is None:
            return None
        try:
            return parse_rfc3339(value.strip())
        except ValueError:
            raise bad_request(
                f"query parameter {name!r} must be an RFC 3339 date-time with a zone, "
                f"e.g. {RFC3339_EXAMPLE} (got {value!r})"
            ) from None
