"""``bolus``: normal, extended (``square``), combination (``dual/square``) and automated.

Spec: reference/data/models/bolus/*.v1.yaml and docs/device-data/data-types/bolus*.md.
Amounts are units (0..100), durations milliseconds (0..24 h). What a bolus was programmed
to deliver goes in ``expectedNormal`` / ``expectedExtended`` / ``expectedDuration``, given
only when the bolus was interrupted (it then delivered less); a combination bolus stopped
during its normal part delivered no extended part (``extended`` and ``duration`` 0).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from uploader.datamodel.base import DeviceDatum

Units = Annotated[float, Field(ge=0, le=100)]
Duration = Annotated[int, Field(ge=0, le=86_400_000)]


class Bolus(DeviceDatum):
    type: Literal["bolus"] = "bolus"
    sub_type: Literal["normal", "square", "dual/square", "automated"]
    normal: Units | None = None
    expected_normal: Units | None = None
    extended: Units | None = None
    expected_extended: Units | None = None
    duration: Duration | None = None
    expected_duration: Duration | None = None

    @model_validator(mode="after")
    def _fits_sub_type(self) -> Bolus:
        immediate = self.sub_type in ("normal", "automated", "dual/square")
        spread = self.sub_type in ("square", "dual/square")
        if immediate != (self.normal is not None):
            raise ValueError(f"a {self.sub_type} bolus {'needs' if immediate else 'has no'} normal")
        if spread != (self.extended is not None and self.duration is not None):
            raise ValueError(f"a {self.sub_type} bolus needs extended and duration: {spread}")
        pairs = (
            (self.normal, self.expected_normal),
            (self.extended, self.expected_extended),
            (self.duration, self.expected_duration),
        )
        for given, expected in pairs:
            if given is not None and expected is not None and expected < given:
                raise ValueError("an expected amount or duration is below the delivered one")
        return self
