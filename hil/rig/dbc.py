"""The rig message set (``rig.dbc``, docs/bench.md): loading it and the codes it carries.

The DBC is the contract between the rig host (``RigController``) and the fixture (real, or
``EmulatedRig``); both encode and decode through cantools from this one file, as any CAN
tool (SavvyCAN, cantools' monitor, a fixture's firmware generator) would.
"""

from __future__ import annotations

from enum import IntEnum
from functools import cache
from pathlib import Path

import cantools
from cantools.database.can import Database

DBC_PATH = Path(__file__).with_name("rig.dbc")

#: Timing the fixture promises (docs/bench.md).
HEARTBEAT_PERIOD_S = 0.1
PORT_STATUS_PERIOD_S = 1.0
ACK_DEADLINE_S = 0.05
DISPLAY_DEADLINE_S = 1.0


class Result(IntEnum):
    """RIG_ACK.Result."""

    DONE = 0
    UNKNOWN_PORT = 1
    OUT_OF_RANGE = 2
    FAULT = 3
    BUSY = 4
    DISPLAY_UNREADABLE = 5


class FixtureState(IntEnum):
    """RIG_HEARTBEAT.State."""

    OK = 0
    FAULT = 1
    STARTING = 2


class FaultCode(IntEnum):
    """RIG_HEARTBEAT.FaultCode."""

    NONE = 0
    SUPPLY_OVERCURRENT = 1
    SUPPLY_UNDERVOLTAGE = 2
    OVER_TEMPERATURE = 3
    ATTENUATOR = 4
    ACTUATOR_JAMMED = 5
    DISPLAY_READER = 6


@cache
def rig_database() -> Database:
    """The parsed rig.dbc."""
    database = cantools.database.load_file(DBC_PATH)
    assert isinstance(database, Database)
    return database


def decode_frame(frame_id: int, data: bytes) -> tuple[str, dict[str, float]] | None:
    """(message name, raw signal values) of a rig frame; None for a frame not in rig.dbc
    or one that does not decode (other nodes on a shared bus)."""
    database = rig_database()
    try:
        spec = database.get_message_by_frame_id(frame_id)
        fields = spec.decode(data, decode_choices=False)
    except Exception:
        return None
    if not isinstance(fields, dict):
        return None
    values: dict[str, float] = {}
    for name, value in fields.items():
        if not isinstance(value, int | float):
            return None
        values[name] = value
    return spec.name, values
