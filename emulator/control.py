"""The control endpoint of an emulator process: read its display, its ledger, break it.

HTTP on 127.0.0.1 (FastAPI under uvicorn, in the emulator's own asyncio loop), for tests
and benches that drive an emulated device in another process:

- ``GET /display`` -> ``{"passkey": "123456"}`` while the device shows a pairing code,
  ``{"passkey": null}`` otherwise;
- ``GET /identity`` -> name, address, manufacturer, model, serial number, firmware, plus
  what the process adds (device kind, HCI moniker);
- ``GET /ledger`` -> ``{"records": [...]}``: every record the device holds now (a GLS
  meter's with sequence numbers; a CGM's with session start, zone, offset, value, trend,
  quality, status; an IDS pump's history events with record number, UTC time, relative
  offset, event name and fields), enough for a test oracle;
- ``POST /faults`` with ``{"fault": "<name>", <parameters>}`` adds a fault; names:
  ``disconnect-after-record`` (record, times), ``drop-indication`` (which, times),
  ``corrupt-e2e-crc`` (record, times), ``reject-pairing`` (times). An unknown name or
  parameter, or a bad value, is a 400 whose ``detail`` says what is allowed;
- ``GET /faults`` lists the plan, ``DELETE /faults`` clears it, ``GET /faults/fired`` lists
  what fired.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import typing
from collections.abc import Iterator
from typing import Any, Protocol

import pydantic
import uvicorn
from fastapi import Body, FastAPI, HTTPException, Response

from emulator.faults import (
    CorruptE2ECrc,
    DisconnectAfterRecord,
    DropIndication,
    FaultPlan,
    RejectPairing,
)

FAULTS: dict[str, type[Any]] = {
    "disconnect-after-record": DisconnectAfterRecord,
    "drop-indication": DropIndication,
    "corrupt-e2e-crc": CorruptE2ECrc,
    "reject-pairing": RejectPairing,
}
_NAMES = {cls: name for name, cls in FAULTS.items()}


class ControlledDevice(Protocol):
    """What the control endpoint needs of a device (``GlsMeter``, ``CgmSensor``, ``IdsPump``)."""

    @property
    def display(self) -> str | None: ...

    @property
    def faults(self) -> FaultPlan: ...

    def identity(self) -> dict[str, str]: ...

    def ledger_json(self) -> list[dict[str, object]]: ...


def parse_fault(body: dict[str, Any]) -> Any:
    """The fault a POST body names; ValueError with a one-line reason when it is wrong."""
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object like {"fault": "reject-pairing"}')
    params = dict(body)
    name = params.pop("fault", None)
    known = ", ".join(FAULTS)
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}: choose one of {known}")
    kind = FAULTS[name]
    fields = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        allowed = ", ".join(fields) or "none"
        raise ValueError(f"{name} has no parameter {', '.join(unknown)}: parameters are {allowed}")
    hints = typing.get_type_hints(kind)
    values = {}
    for key, value in params.items():
        try:
            values[key] = pydantic.TypeAdapter(hints[key]).validate_python(value, strict=True)
        except pydantic.ValidationError as error:
            reason = error.errors()[0]["msg"]
            raise ValueError(f"bad {name} parameter {key}={value!r}: {reason}") from None
    missing = [
        f.name
        for f in dataclasses.fields(kind)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{name} needs {', '.join(missing)}")
    try:
        return kind(**values)
    except ValueError as error:
        raise ValueError(f"bad {name}: {error}") from None


def describe_fault(fault: Any) -> dict[str, Any]:
    name = _NAMES.get(type(fault), type(fault).__name__)
    return {"fault": name, **dataclasses.asdict(fault)}


def create_control_app(device: ControlledDevice, extra: dict[str, str] | None = None) -> FastAPI:
    """The control API of one device; ``extra`` is added to ``GET /identity``."""
    app = FastAPI(title="diahil emulator control", docs_url=None, redoc_url=None)

    @app.get("/display")
    def display() -> dict[str, str | None]:
        return {"passkey": device.display}

    @app.get("/identity")
    def identity() -> dict[str, str]:
        return {**device.identity(), **(extra or {})}

    @app.get("/ledger")
    def ledger() -> dict[str, list[dict[str, object]]]:
        return {"records": device.ledger_json()}

    @app.get("/faults")
    def faults() -> dict[str, list[dict[str, Any]]]:
        return {"faults": [describe_fault(f) for f in device.faults.faults]}

    @app.post("/faults", status_code=201)
    def add_fault(body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            fault = parse_fault(body)
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        device.faults.add(fault)
        return {"added": describe_fault(fault)}

    @app.delete("/faults", status_code=204)
    def clear_faults() -> Response:
        device.faults.clear()
        return Response(status_code=204)

    @app.get("/faults/fired")
    def fired() -> dict[str, list[str]]:
        return {"fired": list(device.faults.fired)}

    return app


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the emulator process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ControlServer:
    """``create_control_app`` served on host:port (0: a free port) in the running loop."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen (OSError when host:port cannot be had) and serve in the background."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off")
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the control endpoint did not start on {self.url}")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None
