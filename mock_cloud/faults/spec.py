"""What a fault is: its kind, which requests it may hit, and its parameters.

Kinds:

- ``latency``: wait ``delayMs`` before handling the request.
- ``error``: answer ``status`` (500, 502, 503 or 504) without handling the request.
- ``rate_limit``: answer 429 with ``Retry-After: retryAfter`` (seconds), not handled.
- ``drop_after_store``: handle the request (data is stored), then close the connection
  without answering: the case that makes naive uploaders store duplicates.
- ``slow_body``: send the response body ``chunkBytes`` at a time, ``delayMs`` apart.
- ``hold``: keep the request waiting until the fault is removed (or ``delayMs`` passes,
  default 60 s), then go on normally; with ``afterHandling`` the request is handled first
  (data stored) and its answer held back. The fault's ``held`` counter shows a held request
  (with ``afterHandling``: a held answer, so the data is stored by then), so a test can wait
  for it and then kill the client at that exact point.
- ``expire_session``: every session token expires just before the request is handled, so a
  logged-in request answers 401 (as when a token runs out mid-upload).

Matching: ``method`` (any if absent) and ``path``, a glob where ``*`` matches any run of
characters (``/v1/data*sets/*/data`` matches both upload paths; any path if absent). The
fault counts matching requests from 1; from the ``nth`` (default the first) on, each
matching request is hit with probability ``rate`` (default 1; drawn from a random generator
seeded with ``seed``, so a run repeats exactly) until the fault has hit ``times`` requests
(default 1 when ``nth`` is given, otherwise no limit).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from mock_cloud.datatypes.fields import Number, Opt, in_range
from mock_cloud.problems import custom_error

FaultKind = Literal[
    "latency", "error", "rate_limit", "drop_after_store", "slow_body", "hold", "expire_session"
]
HttpMethod = Literal["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

_PARAMETERS: dict[str, tuple[str, ...]] = {
    "latency": ("delayMs",),
    "error": ("status",),
    "rate_limit": ("retryAfter",),
    "drop_after_store": (),
    "slow_body": ("delayMs", "chunkBytes"),
    "hold": ("delayMs", "afterHandling"),
    "expire_session": (),
}
_ALL_PARAMETERS = ("delayMs", "status", "retryAfter", "chunkBytes", "afterHandling")


class FaultSpec(BaseModel):
    """A fault to inject (body of POST /admin/faults)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    method: Opt[HttpMethod] = None
    path: Opt[Annotated[StrictStr, Field(min_length=1, max_length=500)]] = None
    nth: Opt[Annotated[StrictInt, Field(ge=1, le=1_000_000)]] = None
    times: Opt[Annotated[StrictInt, Field(ge=1, le=1_000_000)]] = None
    rate: Opt[Annotated[Number, in_range(0, 1)]] = None
    seed: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)] = 0
    delayMs: Opt[Annotated[StrictInt, Field(ge=0, le=60_000)]] = None
    status: Opt[Literal[500, 502, 503, 504]] = None
    retryAfter: Opt[Annotated[StrictInt, Field(ge=0, le=3600)]] = None
    chunkBytes: Opt[Annotated[StrictInt, Field(ge=1, le=1_048_576)]] = None
    afterHandling: Opt[StrictBool] = None

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> FaultSpec:
        allowed = _PARAMETERS[self.kind]
        for name in _ALL_PARAMETERS:
            if getattr(self, name) is not None and name not in allowed:
                raise custom_error(
                    "value-not-valid",
                    f"{name} does not apply to a {self.kind} fault"
                    + (f" (it takes {', '.join(allowed)})" if allowed else " (it takes none)"),
                )
        if self.kind == "latency" and self.delayMs is None:
            raise custom_error("value-not-exists", "a latency fault needs delayMs")
        return self

    @property
    def limit(self) -> int | None:
        """How many requests the fault may hit (None: no limit)."""
        if self.times is not None:
            return self.times
        return 1 if self.nth is not None else None
