"""When and how long to wait before asking the cloud again, and when to stop.

Exponential backoff with full jitter (each wait is random in [0, min(cap, base * 2^n)]),
``Retry-After`` honoured in full for 429 and 503, and two limits, whichever comes first: a
number of tries per request (``attempts``) and a time budget per request (``budget_s``: the
time from its first try, waits and slow answers included, after which it is given up; a
``Retry-After`` that would outlast the budget is given up at once rather than slept
through). The random source, the clock and the sleep are injectable so tests run instantly
and repeatably.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    attempts: int = 4
    """Tries per request, the first included."""
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    """The cap of the backoff (not of a server's ``Retry-After``)."""
    budget_s: float = 120.0
    """Seconds one request may take from its first try, retries and waits included."""
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return max(hinted, 0.0)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def within_budget(self, elapsed_s: float, wait_s: float) -> bool:
        """Whether waiting ``wait_s`` more, ``elapsed_s`` into a request, stays in budget."""
        return elapsed_s + wait_s <= self.budget_s


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
