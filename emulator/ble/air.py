"""The in-process radio: a Bumble ``LocalLink`` and the virtual controllers on it.

Every emulated peripheral is a Bumble host on its own virtual controller on the link. A
central reaches them through another virtual controller on the same link:

- in this process, ``host_endpoint()`` returns the (source, sink) pair a Bumble host
  attaches to, exactly what ``bumble.device.Device.with_hci(name, address, source, sink)``
  takes (the same pair ``open_transport`` yields for a real dongle);
- from another process, ``export_hci(moniker)`` serves a virtual controller over a Bumble
  transport (``tcp-server:127.0.0.1:9000``, ``unix-server:...``, ``pty:...``) for a host
  that opens the matching client moniker (``tcp-client:127.0.0.1:9000``).

An exported controller behaves as a real one when its host goes away and a new one starts:
the new host's HCI Reset ends the links the old host left open (the peripheral sees them
drop, as after a supervision timeout, and advertises again), so a central process that was
killed mid-connection can be followed by another.

The link delivers packets with ``loop.call_soon``: an ``Air`` and everything on it live in
the asyncio loop that created them, and must be used from that loop only.
"""

from __future__ import annotations

import contextlib

from bumble import hci, ll
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport, TransportSink, TransportSource

from emulator.ble.link_cut import CuttableController
from emulator.faults import FaultPlan

DEFAULT_HOST_ADDRESS = "C0:FF:EE:00:00:01"
ADVERTISING_INTERVAL_MS = 20
"""How often an emulated device (or a replay) advertises."""

#: Path attenuation (dB) at which a device's link is lost. A BLE link at bench distance has
#: about 35-40 dB of margin (about -60 dBm received against a receiver sensitivity near
#: -95 dBm), so an attenuator at 40 dB or more drops it; below that the link is clean.
LINK_LOSS_DB = 40.0


class _ResettableController(Controller):
    """A virtual controller whose HCI Reset drops its links, as a real controller's does."""

    def on_hci_reset_command(
        self, command: hci.HCI_Reset_Command
    ) -> hci.HCI_StatusReturnParameters:
        for connection in list(self.le_connections.values()):
            # The peer learns the link is gone (a real one would after its supervision
            # timeout); the new host never knew it, so it gets no event for it.
            connection.send_ll_control_pdu(ll.TerminateInd(hci.HCI_CONNECTION_TIMEOUT_ERROR))
        self.le_connections.clear()
        return super().on_hci_reset_command(command)


class Air:
    """One radio neighbourhood: everything on it can hear and connect to everything else."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self._transports: list[Transport] = []
        self._controllers: list[Controller] = []

    def controller(self, name: str, address: str) -> Controller:
        """A new virtual controller on the link (its public address is ``address``)."""
        controller = Controller(name, link=self.link, public_address=address)
        self._controllers.append(controller)
        return controller

    def cuttable_controller(self, name: str, address: str, faults: FaultPlan) -> Controller:
        """A controller on the link that counts its data packets and drops its links where
        ``faults`` says (``emulator.ble.link_cut``): how emulated peripherals attach."""
        controller = CuttableController(name, link=self.link, public_address=address, faults=faults)
        self._controllers.append(controller)
        return controller

    def host_endpoint(
        self, address: str = DEFAULT_HOST_ADDRESS
    ) -> tuple[TransportSource, TransportSink]:
        """A virtual controller on this link, as the (source, sink) a Bumble host opens."""
        controller = self.controller(f"host {address}", address)
        return controller, AsyncPipeSink(controller)

    def device(self, name: str, address: str) -> Device:
        """A Bumble device (host and controller) on the link, at random address ``address``."""
        source, sink = self.host_endpoint(address)
        return Device.with_hci(name, Address(address), source, sink)

    async def export_hci(self, moniker: str, address: str = DEFAULT_HOST_ADDRESS) -> str:
        """Serve a virtual controller on this link over the Bumble transport ``moniker``.

        Returns the moniker actually served: for ``tcp-server:HOST:0`` the OS picks a free
        port and the returned moniker names it. Raises what ``open_transport`` raises for a
        bad moniker (ValueError for an unknown scheme, OSError for a port in use)."""
        transport = await open_transport(moniker)
        self._transports.append(transport)
        controller = _ResettableController(
            f"exported {moniker}",
            host_source=transport.source,
            host_sink=transport.sink,
            link=self.link,
            public_address=address,
        )
        self._controllers.append(controller)
        server = getattr(transport, "server", None)
        if moniker.startswith("tcp-server:") and server is not None and server.sockets:
            host, port = server.sockets[0].getsockname()[:2]
            return f"tcp-server:{host}:{port}"
        return moniker

    def set_attenuation(self, address: str, db: float) -> None:
        """Attenuate the radio path of the controller at ``address`` by ``db``.

        At ``LINK_LOSS_DB`` or more the device is out of range: its links end as after a
        supervision timeout (both ends see HCI_CONNECTION_TIMEOUT_ERROR), nobody hears its
        advertising and it can be reached by nobody. Below that it is back on the air.
        Call from the air's loop."""
        controller = next(
            (
                c
                for c in reversed(self._controllers)
                if c.public_address.to_string(False) == address.upper()
            ),
            None,
        )
        if controller is None:
            raise ValueError(f"no device at {address} on the air")
        if db >= LINK_LOSS_DB and controller in self.link.controllers:
            reason = hci.HCI_CONNECTION_TIMEOUT_ERROR
            for connection in list(controller.le_connections.values()):
                connection.send_ll_control_pdu(ll.TerminateInd(reason))
                controller.on_le_disconnected(connection, reason)
            self.link.remove_controller(controller)
            controller.link = None  # type: ignore[assignment]  # bumble checks `if self.link`
        elif db < LINK_LOSS_DB and controller not in self.link.controllers:
            controller.link = self.link
            self.link.add_controller(controller)

    def remove(self, controller: Controller) -> None:
        """Take a controller off the air (a device switched off)."""
        if controller in self.link.controllers:
            self.link.remove_controller(controller)

    async def switch_off(self, device: Device, controller: Controller) -> None:
        """Switch a device off: drop its links, stop advertising, power it off and take its
        controller off the air (a step a half-started device cannot take is passed over)."""
        for connection in list(device.connections.values()):
            with contextlib.suppress(Exception):
                await connection.disconnect()
        with contextlib.suppress(Exception):
            await device.stop_advertising()
        with contextlib.suppress(Exception):
            await device.power_off()
        self.remove(controller)

    async def close(self) -> None:
        """Close the exported transports and take every controller off the air."""
        for transport in self._transports:
            await transport.close()
        self._transports.clear()
        for controller in self._controllers:
            self.remove(controller)
        self._controllers.clear()
