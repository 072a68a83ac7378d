"""A device linked to another account is refused right after it is identified, before a
single record is read (the emulated meter's fault log proves no record was sent), and
nothing is uploaded; once the owner unlinks it, the other account may upload it."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.ble import GlsMeter
from emulator.faults import DisconnectAfterRecord
from hil.cloud import Account, CloudInspector, InProcessCloud
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from uploader.errors import DeviceDisconnected, DeviceLinkedElsewhere, ExitCode, Step


def test_a_device_linked_elsewhere_is_refused_before_any_record_is_read(
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    cloud_inspector: CloudInspector,
) -> None:
    assert ble_uploader.upload_ble(gls_meter).status == "uploaded"  # now linked to its owner
    other = mock_cloud.create_account("sam@example.test", "another-household-pw")
    as_other: dict[str, Any] = {"email": other.email, "password": other.password}

    # Were a single record notified, the meter would drop the link right after it.
    gls_meter.faults.add(DisconnectAfterRecord(1, times=None))
    with pytest.raises(DeviceLinkedElsewhere) as refused:
        ble_uploader.upload_ble(gls_meter, **as_other)
    error = refused.value
    assert error.step is Step.IDENTIFY
    assert error.exit_code is ExitCode.DEVICE_LINKED_ELSEWHERE
    assert "linked to another account" in error.message
    assert "Nothing was read" in (error.kept or "")
    assert "diahil account use" in error.hint
    assert gls_meter.faults.fired == []  # no record ever left the meter
    assert cloud_inspector.data(other) == []
    assert cloud_inspector.data_sets(other) == []

    (link,) = cloud_inspector.devices(cloud_account)
    cloud_inspector.unlink_device(cloud_account, link["id"])
    with pytest.raises(DeviceDisconnected):  # now it is read: the fault fires
        ble_uploader.upload_ble(gls_meter, **as_other)
    assert gls_meter.faults.fired
