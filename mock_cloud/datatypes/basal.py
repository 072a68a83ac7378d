"""Basal insulin (``basal``): scheduled, automated, temporary (``temp``) and suspend.

Implements reference/data/models/basal/{basal,scheduled,automated,temporary,suspend}.v1.yaml,
basal/suppressed/*.yaml and docs/device-data/data-types/basal*.md. ``rate`` is U/h (0..100),
``duration`` and ``expectedDuration`` milliseconds up to a week, ``expectedDuration`` never
below ``duration``; ``percent`` (temp only) is 0..10 with 1.0 = 100%. A suspend has no rate.
``suppressed`` describes the basal that would have run: a temp may suppress a scheduled or
automated basal, a suspend any of scheduled, automated or temp, an automated basal a
scheduled one; only a suppressed temp or automated basal may itself hold a ``suppressed``.
(The suppressed model names the temp delivery type ``temporary``; the platform and every
example use ``temp``, as here.)
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from mock_cloud.datatypes.common import Annotation, BaseDatum, Relation
from mock_cloud.datatypes.fields import Opt
from mock_cloud.datatypes.insulin import (
    BasalDuration,
    BasalPercent,
    BasalRate,
    InsulinFormulation,
    ScheduleName,
)


class Suppressed(BaseModel):
    """The basal a temp, suspend or automated basal replaced (basal/suppressed/*.yaml)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["basal"]
    deliveryType: Literal["scheduled", "automated", "temp"]
    rate: BasalRate
    scheduleName: Opt[ScheduleName] = None
    percent: Opt[BasalPercent] = None
    suppressed: Opt[Suppressed] = None
    insulinFormulation: Opt[InsulinFormulation] = None
    annotations: Opt[list[Annotation]] = None


_NESTING: dict[str, tuple[str, ...]] = {
    "scheduled": (),
    "automated": ("scheduled",),
    "temp": ("scheduled", "automated"),
    "suspend": ("scheduled", "automated", "temp"),
}


def suppressed_problems(
    suppressed: Suppressed | None, outer: str, path: tuple[str | int, ...]
) -> list[Relation]:
    """Problems of a ``suppressed`` object inside a basal of delivery type ``outer``."""
    if suppressed is None:
        return []
    allowed = _NESTING[outer]
    if suppressed.deliveryType not in allowed:
        return [
            Relation(
                (*path, "deliveryType"),
                "value-not-allowed",
                f"a {outer} basal cannot suppress a {suppressed.deliveryType} basal "
                f"(allowed: {', '.join(allowed) or 'none'})",
            )
        ]
    found: list[Relation] = []
    if suppressed.percent is not None and suppressed.deliveryType != "temp":
        found.append(
            Relation((*path, "percent"), "field-unknown", "percent belongs to temp basals only")
        )
    if suppressed.scheduleName is not None and suppressed.deliveryType == "temp":
        found.append(
            Relation((*path, "scheduleName"), "field-unknown", "a temp basal has no scheduleName")
        )
    return found + suppressed_problems(
        suppressed.suppressed, suppressed.deliveryType, (*path, "suppressed")
    )


class Basal(BaseDatum):
    """Fields of every basal."""

    DATA_TYPE: ClassVar[str] = "basal"

    type: Literal["basal"]
    duration: BasalDuration
    expectedDuration: Opt[BasalDuration] = None

    def relation_problems(self) -> list[Relation]:
        """expectedDuration not below duration; suppressed fits this delivery type."""
        found: list[Relation] = []
        if self.expectedDuration is not None and self.expectedDuration < self.duration:
            found.append(
                Relation(
                    ("expectedDuration",),
                    "value-out-of-range",
                    f"expectedDuration must not be below duration ({self.duration})",
                )
            )
        delivery = str(getattr(self, "deliveryType", ""))
        suppressed = getattr(self, "suppressed", None)
        return found + suppressed_problems(suppressed, delivery, ("suppressed",))


class ScheduledBasal(Basal):
    """Basal from the active schedule (scheduled.v1.yaml)."""

    deliveryType: Literal["scheduled"]
    rate: BasalRate
    scheduleName: Opt[ScheduleName] = None
    insulinFormulation: Opt[InsulinFormulation] = None


class AutomatedBasal(Basal):
    """Basal set by an automated insulin delivery algorithm (automated.v1.yaml)."""

    deliveryType: Literal["automated"]
    rate: BasalRate
    scheduleName: Opt[ScheduleName] = None
    suppressed: Opt[Suppressed] = None
    insulinFormulation: Opt[InsulinFormulation] = None


class TempBasal(Basal):
    """A temporary basal rate (temporary.v1.yaml)."""

    deliveryType: Literal["temp"]
    rate: BasalRate
    percent: Opt[BasalPercent] = None
    suppressed: Opt[Suppressed] = None
    insulinFormulation: Opt[InsulinFormulation] = None


class SuspendBasal(Basal):
    """No basal delivery: the pump was suspended (suspend.v1.yaml)."""

    deliveryType: Literal["suspend"]
    suppressed: Opt[Suppressed] = None


BASAL_DELIVERY_TYPES: dict[str, type[Basal]] = {
    "scheduled": ScheduledBasal,
    "automated": AutomatedBasal,
    "temp": TempBasal,
    "suspend": SuspendBasal,
}
"""Basal models by ``deliveryType``."""
