"""A replayed Bluetooth device as a process, for an uploader elsewhere (``diahil replay
CAPTURE --hci tcp-server:HOST:PORT``).

The replay (``emulator.replay.ble_replay``) goes on an emulated radio whose virtual
controller is served over the Bumble transport ``--hci`` names, as ``diahil emulate`` does,
so any Bumble host can be its central: ``diahil upload --ble-transport tcp-client:HOST:PORT``
of this or another diahil version. The process prints, and flushes, one ``key: value`` line
each for ``name``, ``address``, ``requests`` (how many the recording has) and ``hci`` (the
moniker served, with the real port when asked for port 0), then ``ready``; it runs until
every recorded request was answered, the host diverged, or SIGINT/SIGTERM, then prints the
replay's report on one line (``report: ...``). Exit status 0 after a complete replay, 10
after a divergence, 1 when stopped before the recording's end or unable to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from emulator.ble.air import Air
from emulator.process_run import stop_on_signals
from emulator.replay.ble_replay import BleReplay

DIVERGED = 10
SETTLE_S = 0.2
"""After the last answer: time for the host to confirm the last indication and disconnect."""


class ServeError(Exception):
    """The replay could not be served (a bad moniker, a port in use): one line for the user."""


async def serve(
    replay: BleReplay, hci: str, *, out: TextIO | None = None, stop: asyncio.Event | None = None
) -> int:
    """Serve ``replay`` on ``hci`` until it is done (or ``stop``); the exit status."""
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        air = Air()
        try:
            await replay.start(air)
            try:
                served = await air.export_hci(hci)
            except Exception as error:  # Bumble raises several kinds for a bad moniker
                raise ServeError(f"cannot serve HCI on {hci!r}: {error}") from None
            for key, value in (
                ("name", replay.name),
                ("address", replay.address),
                ("requests", str(replay.total)),
                ("hci", served),
            ):
                print(f"{key}: {value}", file=out)
            print("ready", file=out, flush=True)
            done = asyncio.ensure_future(replay.finished.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (done, stopped):
                waiter.cancel()
            if replay.finished.is_set() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SETTLE_S)
        finally:
            await replay.stop()
            await air.close()
    print(f"report: {replay.report()}", file=out, flush=True)
    if replay.divergence is not None:
        return DIVERGED
    return 0 if replay.complete else 1


def main(capture: Path, hci: str, passkey: int) -> int:
    """Run the process (``CaptureError`` if the file cannot be replayed)."""
    replay = BleReplay.from_file(capture, passkey=passkey)
    try:
        return asyncio.run(serve(replay, hci))
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
