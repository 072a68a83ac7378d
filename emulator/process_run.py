"""Running an emulator as a process: what every ``diahil emulate``/``diahil replay`` process does.

SIGINT and SIGTERM set the process's stop event (where the event loop can take signal
handlers), and a process that cannot come up (bad moniker, port in use...) says so in one
line on stderr and exits with status 1 (docs/exit-codes.md), never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine, Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StartupError(Exception):
    """The process could not come up (bad moniker, port in use...): one line for the user."""


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Inside: SIGINT and SIGTERM set ``stop`` (call from a running event loop)."""
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)


def exit_status(main: Coroutine[Any, Any, None]) -> int:
    """Run ``main``: 0 after a clean stop (or Ctrl-C), 1 after a ``StartupError`` (on stderr)."""
    try:
        asyncio.run(main)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
