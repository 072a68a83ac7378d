"""Pairing and link security of the emulated medical peripherals.

What the Bluetooth health profiles ask (GLS, CGMS; ../shared/specs/ble-medical-services.md)
and real meters do:

- LE Secure Connections with passkey entry: the device has a display and no keyboard
  (DisplayOnly), so it *shows* six digits and the collector's user types them; a fresh
  random passkey each pairing unless the device was given a fixed one (scripted benches);
- bonding, with a random static identity address (with a public identity the Bumble key
  store misses on reconnect), so a bonded collector reconnects and encrypts with the
  stored key and no passkey;
- data characteristics need an encrypted link whose key was authenticated (MITM): an
  access on any other link gets ATT error 0x05 (Insufficient Authentication), as on real
  meters. A key from Just Works pairing (a collector without a keyboard) is not enough:
  Bumble's SMP lets such a pairing complete, so the gate checks the key itself.

``PasskeyDisplay`` is the device's screen; ``DisplayPairingDelegate`` shows passkeys on it
and can refuse a pairing (the RejectPairing fault); ``LinkSecurity`` tracks which links are
authenticated and is the gate data characteristics call.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

from bumble import att
from bumble.device import Connection, Device
from bumble.keys import PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate


class PasskeyDisplay:
    """The device's screen while pairing: the six digits shown, or nothing."""

    def __init__(self) -> None:
        self._shown: str | None = None
        self._changed = asyncio.Event()

    @property
    def shown(self) -> str | None:
        return self._shown

    def show(self, passkey: int) -> None:
        self._shown = f"{passkey:06d}"
        self._changed.set()

    def clear(self) -> None:
        self._shown = None

    async def wait(self, timeout: float = 5.0) -> str:
        """The passkey on screen, waiting up to ``timeout`` seconds for one to appear."""

        async def shown() -> str:
            while self._shown is None:
                self._changed.clear()
                await self._changed.wait()
            return self._shown

        return await asyncio.wait_for(shown(), timeout)


class DisplayPairingDelegate(PairingDelegate):
    """A DisplayOnly device: it shows the passkey it chose and never asks for input."""

    def __init__(
        self, display: PasskeyDisplay, passkey: int | None, reject: Callable[[], bool]
    ) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY)
        self._display = display
        self._passkey = passkey
        self._reject = reject

    async def accept(self) -> bool:
        return not self._reject()

    async def generate_passkey(self) -> int:
        return self._passkey if self._passkey is not None else secrets.randbelow(1_000_000)

    async def display_number(self, number: int, digits: int) -> None:
        self._display.show(number)


def pairing_config(delegate: PairingDelegate) -> PairingConfig:
    """Secure Connections, MITM protection, bonding with a random static identity."""
    return PairingConfig(
        sc=True,
        mitm=True,
        bonding=True,
        delegate=delegate,
        identity_address_type=PairingConfig.AddressType.RANDOM,
    )


def _authenticated(keys: PairingKeys | None) -> bool:
    if keys is None:
        return False
    return any(k is not None and k.authenticated for k in (keys.ltk, keys.ltk_peripheral))


class LinkSecurity:
    """Which of a device's links are encrypted with an authenticated (MITM) key."""

    def __init__(self, device: Device, display: PasskeyDisplay) -> None:
        self._device = device
        self._display = display
        self._verdict: dict[Connection, bool] = {}

    def track(self, connection: Connection) -> None:
        """Follow a new connection's pairing and encryption events."""

        def on_pairing(keys: PairingKeys) -> None:
            self._verdict[connection] = _authenticated(keys)
            self._display.clear()

        def on_pairing_failure(reason: int) -> None:
            self._verdict.pop(connection, None)
            self._display.clear()

        def on_encryption_change() -> None:
            self._verdict.pop(connection, None)  # decide again, from the key in use

        def on_disconnection(reason: int) -> None:
            self._verdict.pop(connection, None)
            self._display.clear()

        connection.on(Connection.EVENT_PAIRING, on_pairing)
        connection.on(Connection.EVENT_PAIRING_FAILURE, on_pairing_failure)
        connection.on(Connection.EVENT_CONNECTION_ENCRYPTION_CHANGE, on_encryption_change)
        connection.on(Connection.EVENT_DISCONNECTION, on_disconnection)

    async def is_authenticated(self, connection: Connection) -> bool:
        if not connection.is_encrypted:
            return False
        verdict = self._verdict.get(connection)
        if verdict is None:
            keystore = self._device.keystore
            keys = None if keystore is None else await keystore.get(str(connection.peer_address))
            verdict = self._verdict[connection] = _authenticated(keys)
        return verdict

    async def require(self, connection: Connection) -> None:
        """Raise ATT error 0x05 unless the link is encrypted with an authenticated key."""
        if not await self.is_authenticated(connection):
            raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_AUTHENTICATION)
