"""The registry of datum types: type name to pydantic model.

A new data type (cbg, bolus, basal, deviceEvent, pumpSettings, ...) is a module beside
``smbg.py`` plus one entry in ``_MODELS``. ``SPEC_DATA_TYPES`` and ``SPEC_SUB_TYPES`` are the
full vocabularies of the spec (reference/data/models/datatype.v1.yaml and
datasubtype.v1.yaml), used to tell "not a Tidepool type" from "not supported here yet" and
to check query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mock_cloud.datatypes.common import BaseDatum
from mock_cloud.datatypes.smbg import Smbg

_MODELS: tuple[type[BaseDatum], ...] = (Smbg,)

DATUM_MODELS: Mapping[str, type[BaseDatum]] = MappingProxyType(
    {model.DATA_TYPE: model for model in _MODELS}
)
"""Datum types this mock cloud accepts, by ``type``."""

SPEC_DATA_TYPES = frozenset(
    {
        "alert",
        "basal",
        "bloodKetone",
        "bolus",
        "cbg",
        "cgmSettings",
        "controllerSettings",
        "controllerStatus",
        "deviceEvent",
        "deviceStatus",
        "dosingDecision",
        "food",
        "insulin",
        "physicalActivity",
        "pumpSettings",
        "pumpStatus",
        "reportedState",
        "smbg",
        "upload",
        "water",
        "wizard",
    }
)
"""Every data type of the Tidepool data model (datatype.v1.yaml)."""

SPEC_SUB_TYPES = frozenset(
    {
        # blood/subtype.v1.yaml
        "linked",
        "manual",
        "scanned",
        # bolus/subtype.v1.yaml
        "automated",
        "dual/square",
        "normal",
        "square",
        # deviceevent/subtype.v1.yaml
        "alarm",
        "calibration",
        "prime",
        "pumpSettingsOverride",
        "reservoirChange",
        "sensorEvent",
        "settingsChange",
        "status",
        "timeChange",
        "transmitterEvent",
    }
)
"""Every ``subType`` value of the Tidepool data model (datasubtype.v1.yaml)."""


def supported_types() -> list[str]:
    """Names of the datum types accepted for upload, sorted."""
    return sorted(DATUM_MODELS)
