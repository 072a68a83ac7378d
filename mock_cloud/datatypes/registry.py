"""The registry of datum types: type name to pydantic model, or to variants by sub-type.

A type with one shape (smbg, cbg, pumpSettings, wizard) maps to its model; a type whose
shape depends on a field (bolus by ``subType``, basal by ``deliveryType``, deviceEvent by
``subType``) maps to ``Variants``. A new data type is a module beside ``smbg.py`` plus one
entry here. ``SPEC_DATA_TYPES`` and ``SPEC_SUB_TYPES`` are the
full vocabularies of the spec (reference/data/models/datatype.v1.yaml and
datasubtype.v1.yaml), used to tell "not a Tidepool type" from "not supported here yet" and
to check query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mock_cloud.datatypes.basal import BASAL_DELIVERY_TYPES
from mock_cloud.datatypes.bolus import BOLUS_SUBTYPES
from mock_cloud.datatypes.cbg import Cbg
from mock_cloud.datatypes.common import BaseDatum
from mock_cloud.datatypes.device_event import DEVICE_EVENT_SUBTYPES
from mock_cloud.datatypes.pump_settings import PumpSettings
from mock_cloud.datatypes.smbg import Smbg
from mock_cloud.datatypes.wizard import Wizard


@dataclass(frozen=True)
class Variants:
    """A type whose model is chosen by the value of ``field``."""

    field: str
    models: Mapping[str, type[BaseDatum]]


DATUM_MODELS: Mapping[str, type[BaseDatum] | Variants] = MappingProxyType(
    {
        "smbg": Smbg,
        "cbg": Cbg,
        "bolus": Variants("subType", BOLUS_SUBTYPES),
        "basal": Variants("deliveryType", BASAL_DELIVERY_TYPES),
        "deviceEvent": Variants("subType", DEVICE_EVENT_SUBTYPES),
        "pumpSettings": PumpSettings,
        "wizard": Wizard,
    }
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
