"""A BlueZ pairing agent (``org.bluez.Agent1`` on D-Bus) that asks the passkey provider.

bleak has no pairing-agent API. On Linux, BlueZ asks a registered agent for the passkey
when a device that displays one pairs; without an agent, pairing with a meter's six-digit
code cannot work from a command line. This agent answers ``RequestPasskey`` from the
uploader's passkey provider (the CLI prompt, ``--passkey``, or a bench's display reader),
registered with ``org.bluez.AgentManager1`` as the default agent for the upload.

Interfaces: BlueZ's doc/org.bluez.Agent.rst and org.bluez.AgentManager.rst. D-Bus through
dbus-fast, which bleak already uses on Linux. (This module deliberately has no
``from __future__ import annotations``: dbus-fast reads the D-Bus signatures from the
method annotations at class creation.)
"""

import asyncio
import contextlib
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

from uploader.pairing import PasskeyProvider

AGENT_PATH = "/org/diahil/uploader/agent"
CAPABILITY = "KeyboardOnly"
REJECTED = "org.bluez.Error.Rejected"
CANCELED = "org.bluez.Error.Canceled"


def device_label(path: str) -> str:
    """``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF`` -> ``the device AA:BB:CC:DD:EE:FF``."""
    leaf = path.rsplit("/", 1)[-1]
    if leaf.startswith("dev_"):
        return "the device " + leaf[4:].replace("_", ":")
    return "the device"


class PasskeyAgent(ServiceInterface):
    """The Agent1 interface: keyboard only, so only passkeys are ever asked for."""

    def __init__(self, provider: PasskeyProvider) -> None:
        super().__init__("org.bluez.Agent1")
        self._provider = provider
        self.requests: list[str] = []

    async def _passkey(self, device: str) -> int:
        self.requests.append(device)
        try:
            return await self._provider(device_label(device))
        except Exception as exc:
            raise DBusError(CANCELED, f"no passkey: {exc}") from exc

    @dbus_method()
    async def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        return await self._passkey(device)

    @dbus_method()
    async def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        return f"{await self._passkey(device):06d}"

    @dbus_method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> None:
        pass

    @dbus_method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> None:
        pass

    @dbus_method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> None:
        # Numeric comparison is not how meters pair; refusing is safer than confirming blindly.
        raise DBusError(REJECTED, "numeric comparison is not supported by this uploader")

    @dbus_method()
    def RequestAuthorization(self, device: DBusObjectPath) -> None:
        raise DBusError(
            REJECTED, "just-works pairing is refused: a medical device must show a code"
        )

    @dbus_method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> None:
        pass

    @dbus_method()
    def Release(self) -> None:
        pass

    @dbus_method()
    def Cancel(self) -> None:
        pass


CALL_TIMEOUT_S = 5.0


async def _manager_call(bus: MessageBus, member: str, signature: str, body: list[Any]) -> None:
    call = bus.call(
        Message(
            destination="org.bluez",
            path="/org/bluez",
            interface="org.bluez.AgentManager1",
            member=member,
            signature=signature,
            body=body,
        )
    )
    try:
        reply = await asyncio.wait_for(call, CALL_TIMEOUT_S)
    except TimeoutError:
        raise DBusError(
            "org.freedesktop.DBus.Error.Timeout", f"{member}: BlueZ did not answer"
        ) from None
    if reply is None or reply.message_type == MessageType.ERROR:
        name = reply.error_name if reply is not None else None
        detail = reply.body[0] if reply is not None and reply.body else "no reply"
        raise DBusError(name or "org.freedesktop.DBus.Error.Failed", f"{member}: {detail}")


class AgentRegistration:
    """An agent exported and registered with BlueZ; ``close`` undoes both."""

    def __init__(self, bus: MessageBus, agent: PasskeyAgent) -> None:
        self.bus = bus
        self.agent = agent

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await _manager_call(self.bus, "UnregisterAgent", "o", [AGENT_PATH])
        self.bus.unexport(AGENT_PATH)
        self.bus.disconnect()


async def register_agent(
    provider: PasskeyProvider, bus_address: str | None = None
) -> AgentRegistration:
    """Export the agent on the system bus (or ``bus_address``) and make it BlueZ's default.

    Raises ``DBusError`` (BlueZ not running, agent refused) or ``OSError`` (no bus)."""
    bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
    agent = PasskeyAgent(provider)
    bus.export(AGENT_PATH, agent)
    try:
        await _manager_call(bus, "RegisterAgent", "os", [AGENT_PATH, CAPABILITY])
        await _manager_call(bus, "RequestDefaultAgent", "o", [AGENT_PATH])
    except BaseException:
        bus.disconnect()
        raise
    return AgentRegistration(bus, agent)
