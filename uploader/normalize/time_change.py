"""Device clock changes (``DeviceTimeChange``) to Tidepool ``deviceEvent``/``timeChange``
datums, placed by utc-bootstrapping (``uploader.time_bootstrap``): the datum's device time
is the display time the change set (``to``), as the Tidepool uploader does."""

from __future__ import annotations

from uploader.datamodel.device_event import TimeChange, TimeChangeInfo
from uploader.normalize.placed import placement
from uploader.records import DeviceIdentity, DeviceTimeChange
from uploader.time_bootstrap import UtcBootstrapping


def time_change_datum(
    change: DeviceTimeChange, identity: DeviceIdentity, times: UtcBootstrapping
) -> TimeChange:
    return TimeChange(
        **placement(times.change_fields(change), change.to_time),
        device_id=identity.device_id,
        method=change.agent,
        previous=TimeChangeInfo(time=change.from_time),
        to=TimeChangeInfo(time=change.to_time),
    )
