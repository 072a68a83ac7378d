"""A peripheral's virtual controller that counts the data packets crossing its radio link,
and drops the link where a ``CutLinkAfterPackets`` fault says.

Every LE ACL data packet counts, both directions (host to air and air to host): ATT
requests, responses, notifications and indications, SMP pairing, L2CAP signalling. A clean
session's count (``data_packets``) is the number of steps at which a link can be cut; the
cut itself is what a real link does when the peer goes out of range (Core Spec Vol 6,
Part B, 4.5.2: supervision timeout): the packet is lost, both ends see the connection end
with HCI_CONNECTION_TIMEOUT_ERROR, and the device advertises again.
"""

from __future__ import annotations

from bumble import hci, ll
from bumble.controller import Connection, Controller
from bumble.core import PhysicalTransport
from bumble.link import LocalLink

from emulator.faults import FaultPlan


class CuttableController(Controller):
    """A ``Controller`` on ``link`` whose data packets are counted and may be cut."""

    def __init__(self, name: str, *, link: LocalLink, public_address: str, faults: FaultPlan):
        super().__init__(name, link=link, public_address=public_address)
        self.faults = faults
        self.data_packets = 0
        """LE data packets that crossed this controller's links since power-on."""

    def _crossing(self, connection: Connection | None) -> bool:
        """One packet is about to cross ``connection``; False when the link drops instead."""
        if connection is None:
            return True
        if self.faults.cut_link(self.data_packets):
            reason = hci.HCI_CONNECTION_TIMEOUT_ERROR
            connection.send_ll_control_pdu(ll.TerminateInd(reason))
            self.on_le_disconnected(connection, reason)
            return False
        self.data_packets += 1
        return True

    def on_hci_acl_data_packet(self, packet: hci.HCI_AclDataPacket) -> None:
        connection = self.find_connection_by_handle(packet.connection_handle)
        if self._crossing(connection if isinstance(connection, Connection) else None):
            super().on_hci_acl_data_packet(packet)

    def on_link_acl_data(
        self, sender_address: hci.Address, transport: PhysicalTransport, data: bytes
    ) -> None:
        connection = (
            self.le_connections.get(sender_address) if transport == PhysicalTransport.LE else None
        )
        if self._crossing(connection):
            super().on_link_acl_data(sender_address, transport, data)
