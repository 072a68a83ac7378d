"""Bolus insulin (``bolus``): normal, extended (``square``), combination (``dual/square``)
and automated boluses.

Implements reference/data/models/bolus/{bolus,normal,extended,combination,automated}.v1.yaml
and docs/device-data/data-types/bolus*.md. Amounts are 0..100 units, durations 0..24 h in
milliseconds. Relations (bolus.md): an expected amount or duration is never below the
delivered one; ``expectedDuration`` comes with ``expectedExtended`` and only with it; a
bolus that delivered nothing must say what was expected (a cancelled bolus); a combination
bolus interrupted during its normal part (``expectedNormal`` given) delivered no extended
part and says what the extended part would have been.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from mock_cloud.datatypes.common import BaseDatum, Relation
from mock_cloud.datatypes.fields import Opt
from mock_cloud.datatypes.insulin import BolusDuration, InsulinAmount, InsulinFormulation

DeliveryContext = Literal["algorithm", "device", "oneButton", "remote", "watch", "undetermined"]


class Bolus(BaseDatum):
    """Fields of every bolus."""

    DATA_TYPE: ClassVar[str] = "bolus"

    type: Literal["bolus"]
    deliveryContext: Opt[DeliveryContext] = None
    insulinFormulation: Opt[InsulinFormulation] = None


def _not_below(
    name: str, value: float | None, expected_name: str, expected: float | None
) -> list[Relation]:
    if value is not None and expected is not None and expected < value:
        return [
            Relation(
                (expected_name,),
                "value-out-of-range",
                f"{expected_name} must not be below {name} ({value:g})",
            )
        ]
    return []


def _normal_rules(normal: float, expected: float | None) -> list[Relation]:
    found = _not_below("normal", normal, "expectedNormal", expected)
    if normal == 0 and not expected:
        found.append(
            Relation(
                ("normal",),
                "value-out-of-range",
                "a bolus of 0 units is refused unless it was cancelled: then send "
                "expectedNormal > 0",
            )
        )
    return found


def _extended_rules(
    extended: float,
    expected: float | None,
    duration: int,
    expected_duration: int | None,
    *,
    zero_ok: bool,
) -> list[Relation]:
    found = _not_below("extended", extended, "expectedExtended", expected)
    found += _not_below("duration", duration, "expectedDuration", expected_duration)
    if expected is not None and expected_duration is None:
        found.append(
            Relation(
                ("expectedDuration",),
                "value-not-exists",
                "expectedDuration is required with expectedExtended",
            )
        )
    if expected is None and expected_duration is not None:
        found.append(
            Relation(
                ("expectedExtended",),
                "value-not-exists",
                "expectedExtended is required with expectedDuration",
            )
        )
    if extended == 0 and not expected and not zero_ok:
        found.append(
            Relation(
                ("extended",),
                "value-out-of-range",
                "an extended bolus of 0 units is refused unless it was cancelled: then send "
                "expectedExtended > 0",
            )
        )
    return found


class NormalBolus(Bolus):
    """A bolus delivered at once (normal.v1.yaml)."""

    subType: Literal["normal"]
    normal: InsulinAmount
    expectedNormal: Opt[InsulinAmount] = None

    def relation_problems(self) -> list[Relation]:
        return _normal_rules(self.normal, self.expectedNormal)


class AutomatedBolus(Bolus):
    """A bolus given by an automated insulin delivery algorithm (automated.v1.yaml)."""

    subType: Literal["automated"]
    normal: InsulinAmount
    expectedNormal: Opt[InsulinAmount] = None

    def relation_problems(self) -> list[Relation]:
        return _normal_rules(self.normal, self.expectedNormal)


class ExtendedBolus(Bolus):
    """A bolus delivered evenly over a duration (extended.v1.yaml, subType square)."""

    subType: Literal["square"]
    extended: InsulinAmount
    expectedExtended: Opt[InsulinAmount] = None
    duration: BolusDuration
    expectedDuration: Opt[BolusDuration] = None

    def relation_problems(self) -> list[Relation]:
        return _extended_rules(
            self.extended,
            self.expectedExtended,
            self.duration,
            self.expectedDuration,
            zero_ok=False,
        )


class CombinationBolus(Bolus):
    """A normal part at once plus an extended part (combination.v1.yaml, dual/square)."""

    subType: Literal["dual/square"]
    normal: InsulinAmount
    expectedNormal: Opt[InsulinAmount] = None
    extended: InsulinAmount
    expectedExtended: Opt[InsulinAmount] = None
    duration: BolusDuration
    expectedDuration: Opt[BolusDuration] = None

    def relation_problems(self) -> list[Relation]:
        found = _not_below("normal", self.normal, "expectedNormal", self.expectedNormal)
        found += _extended_rules(
            self.extended, self.expectedExtended, self.duration, self.expectedDuration, zero_ok=True
        )
        if self.expectedNormal is not None:
            if self.extended != 0 or self.duration != 0:
                found.append(
                    Relation(
                        ("extended",),
                        "value-not-valid",
                        "a combination bolus interrupted during its normal part (expectedNormal "
                        "given) delivered no extended part: extended and duration must be 0",
                    )
                )
            if self.expectedExtended is None:
                found.append(
                    Relation(
                        ("expectedExtended",),
                        "value-not-exists",
                        "expectedExtended is required when the normal part was interrupted",
                    )
                )
        if self.normal + self.extended == 0 and not (self.expectedNormal or self.expectedExtended):
            found.append(
                Relation(
                    ("normal",),
                    "value-out-of-range",
                    "a bolus of 0 units is refused unless it was cancelled: then send the "
                    "expected amounts",
                )
            )
        return found


BOLUS_SUBTYPES: dict[str, type[Bolus]] = {
    "normal": NormalBolus,
    "square": ExtendedBolus,
    "dual/square": CombinationBolus,
    "automated": AutomatedBolus,
}
"""Bolus models by ``subType``."""
