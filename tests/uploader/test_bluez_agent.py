"""The BlueZ pairing agent, on a private D-Bus bus where this test plays BlueZ.

The test owns ``org.bluez`` on its own bus (a ``dbus-daemon`` of its own), exports an
``AgentManager1`` that records registrations, then calls the registered agent exactly as
BlueZ does when a device that displays a passkey pairs. (No ``from __future__ import
annotations`` here: dbus-fast reads D-Bus signatures from the method annotations.)
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr
from dbus_fast.service import ServiceInterface, dbus_method

from uploader.transports.bluez_agent import AGENT_PATH, CAPABILITY, device_label, register_agent

DAEMON = shutil.which("dbus-daemon")
if DAEMON is None and os.environ.get("DIAHIL_CI"):
    raise RuntimeError("CI must run the D-Bus agent tests: install the Debian package dbus")
pytestmark = pytest.mark.skipif(
    DAEMON is None, reason="dbus-daemon is not installed (Debian package dbus)"
)


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    socket = tmp_path / "bus.sock"
    config = tmp_path / "bus.conf"
    config.write_text(
        f"""<busconfig><type>session</type><listen>unix:path={socket}</listen>
        <auth>EXTERNAL</auth><policy context="default">
        <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
        <allow own="*"/></policy></busconfig>"""
    )
    assert DAEMON is not None
    daemon = subprocess.Popen([DAEMON, f"--config-file={config}", "--nofork", "--nopidfile"])
    try:
        for _ in range(100):
            if socket.exists():
                break
            subprocess.run(["sleep", "0.02"], check=True)
        yield f"unix:path={socket}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=5)


class FakeAgentManager(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.bluez.AgentManager1")
        self.calls: list[tuple[str, ...]] = []

    @dbus_method()
    def RegisterAgent(self, agent: DBusObjectPath, capability: DBusStr) -> None:
        self.calls.append(("register", agent, capability))

    @dbus_method()
    def RequestDefaultAgent(self, agent: DBusObjectPath) -> None:
        self.calls.append(("default", agent))

    @dbus_method()
    def UnregisterAgent(self, agent: DBusObjectPath) -> None:
        self.calls.append(("unregister", agent))


async def play_bluez(address: str, manager: FakeAgentManager) -> MessageBus:
    bluez = await MessageBus(bus_address=address, bus_type=BusType.SESSION).connect()
    bluez.export("/org/bluez", manager)
    await bluez.request_name("org.bluez")
    return bluez


async def ask_passkey(bluez: MessageBus, agent_owner: str | None) -> Message:
    reply = await bluez.call(
        Message(
            destination=agent_owner,
            path=AGENT_PATH,
            interface="org.bluez.Agent1",
            member="RequestPasskey",
            signature="o",
            body=["/org/bluez/hci0/dev_F0_F0_F0_F0_F0_01"],
        )
    )
    assert reply is not None
    return reply


def test_bluez_gets_the_passkey_from_the_provider(private_bus: str) -> None:
    asked: list[str] = []

    async def provider(label: str) -> int:
        asked.append(label)
        return 42  # a code is six digits, zero-padded on the display: 000042

    async def scenario() -> None:
        manager = FakeAgentManager()
        bluez = await play_bluez(private_bus, manager)
        registration = await register_agent(provider, bus_address=private_bus)
        assert manager.calls == [("register", AGENT_PATH, CAPABILITY), ("default", AGENT_PATH)]
        reply = await ask_passkey(bluez, registration.bus.unique_name)
        assert reply.message_type == MessageType.METHOD_RETURN and reply.body == [42]
        confirm = await bluez.call(
            Message(
                destination=registration.bus.unique_name,
                path=AGENT_PATH,
                interface="org.bluez.Agent1",
                member="RequestConfirmation",
                signature="ou",
                body=["/org/bluez/hci0/dev_F0_F0_F0_F0_F0_01", 123456],
            )
        )
        assert confirm is not None and confirm.error_name == "org.bluez.Error.Rejected"
        await registration.close()
        assert manager.calls[-1] == ("unregister", AGENT_PATH)
        bluez.disconnect()

    asyncio.run(scenario())
    assert asked == ["the device F0:F0:F0:F0:F0:01"]


def test_a_provider_that_fails_cancels_the_pairing(private_bus: str) -> None:
    async def provider(_label: str) -> int:
        raise RuntimeError("the user closed the prompt")

    async def scenario() -> None:
        bluez = await play_bluez(private_bus, FakeAgentManager())
        registration = await register_agent(provider, bus_address=private_bus)
        reply = await ask_passkey(bluez, registration.bus.unique_name)
        assert reply.error_name == "org.bluez.Error.Canceled"
        await registration.close()
        bluez.disconnect()

    asyncio.run(scenario())


def test_without_bluez_registration_fails_with_a_dbus_error(private_bus: str) -> None:
    async def provider(_label: str) -> int:
        return 1

    with pytest.raises(DBusError):
        asyncio.run(register_agent(provider, bus_address=private_bus))


def test_device_labels() -> None:
    assert device_label("/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF") == "the device AA:BB:CC:DD:EE:FF"
    assert device_label("/org/bluez/hci0") == "the device"
