"""Bluetooth LE attachment: emulated peripherals on Bumble, reachable in-process or over HCI.

- ``Air`` (``air.py``): the in-process radio (a Bumble ``LocalLink``) with virtual
  controllers for hosts in this process (``host_endpoint``) or in another one
  (``export_hci`` over any Bumble transport moniker);
- ``GlsMeter`` (``gls_meter.py``): a glucose meter speaking the Glucose Service, on a
  ``MeterModel``;
- ``CgmSensor`` (``cgm_sensor.py``): a CGM speaking the Continuous Glucose Monitoring
  Service, on a ``CgmModel``;
- ``IdsPump`` (``ids_pump.py``): an insulin pump speaking the Insulin Delivery Service, on
  a ``PumpModel``;
- ``GlsQuirks``/``CgmQuirks`` (``quirks.py``): real-device oddities, off by default.

Everything here runs in the asyncio loop that created it (Bumble's objects are bound to
their loop); nothing is thread-safe.
"""

from emulator.ble.air import Air
from emulator.ble.cgm_sensor import CgmSensor
from emulator.ble.gls_meter import GlsMeter
from emulator.ble.ids_pump import IdsPump
from emulator.ble.quirks import CgmQuirks, GlsQuirks

__all__ = ["Air", "CgmQuirks", "CgmSensor", "GlsMeter", "GlsQuirks", "IdsPump"]
