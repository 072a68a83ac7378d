"""A Bumble host acting as a Bluetooth LE central, on any HCI transport.

The uploader's own Bluetooth stack for benches and tests: a Bumble ``Device`` attached to an
HCI transport, either a Bumble transport moniker (``usb:0`` for an HCI dongle on a bench,
``tcp-client:HOST:PORT`` for an emulator process, ``serial:...``) or an already open
``(source, sink)`` pair handed in by the process that hosts an in-process radio. Bonds
(long-term keys) are kept in a JSON key store so a bonded meter reconnects without a new
passkey, also in the next upload.

Used through the bleak backend in ``uploader.transports.bleak_bumble``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.device import Connection, Device
from bumble.keys import JsonKeyStore, KeyStore, MemoryKeyStore
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.snoop import Snooper
from bumble.transport import open_transport

HciEndpoint = tuple[Any, Any]
"""An open HCI transport as (source, sink), as ``bumble.device.Device.with_hci`` takes it."""

PasskeyProvider = Callable[[str], Awaitable[int]]
"""Asked for the 6-digit passkey a device displays; gets a label of the device."""

CENTRAL_ADDRESS = "D1:A4:11:00:00:01"
"""A static random address (two top bits set): stable, so peers recognise our bond."""


class _KeyboardDelegate(PairingDelegate):
    """The collector's side of passkey entry: it has a keyboard (the user types the code).
    A provider that fails leaves its error on the central, for the pairing error to say."""

    def __init__(
        self, provider: PasskeyProvider | None, label: str, central: BumbleCentral
    ) -> None:
        capability = (
            PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY
            if provider is not None
            else PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT
        )
        super().__init__(io_capability=capability)
        self._provider = provider
        self._label = label
        self._central = central

    async def get_number(self) -> int | None:
        if self._provider is None:
            return None
        try:
            return await self._provider(self._label)
        except Exception as exc:  # the pairing fails; the reason must reach the user
            self._central.passkey_error = exc
            return None


class BumbleCentral:
    """One Bumble host on one HCI transport, shared by a scanner and clients in a process."""

    def __init__(
        self,
        transport: str | HciEndpoint,
        *,
        keystore_path: Path | None = None,
        address: str = CENTRAL_ADDRESS,
    ) -> None:
        self._transport_spec = transport
        self._keystore_path = keystore_path
        self._address = address
        self._device: Device | None = None
        self._opened: Any = None
        self._lock = asyncio.Lock()
        self.passkey_provider: PasskeyProvider | None = None
        self.passkey_error: Exception | None = None
        self.peer_label = "the device"
        self.snooper: Snooper | None = None
        """Handed every HCI packet both ways (``--capture``); set before first use."""

    @property
    def description(self) -> str:
        return self._transport_spec if isinstance(self._transport_spec, str) else "in-process radio"

    async def device(self) -> Device:
        """The powered-on Bumble device (opened on first use)."""
        async with self._lock:
            if self._device is None:
                if isinstance(self._transport_spec, str):
                    self._opened = await open_transport(self._transport_spec)
                    source, sink = self._opened.source, self._opened.sink
                else:
                    source, sink = self._transport_spec
                device = Device.with_hci(
                    "diahil uploader", hci.Address(self._address), source, sink
                )
                device.host.snooper = self.snooper
                device.keystore = self._keystore()
                device.pairing_config_factory = self._pairing_config
                await device.power_on()
                self._device = device
            return self._device

    def _keystore(self) -> KeyStore:
        if self._keystore_path is None:
            return MemoryKeyStore()
        self._keystore_path.parent.mkdir(parents=True, exist_ok=True)
        return JsonKeyStore(namespace=self._address, filename=str(self._keystore_path))

    def _pairing_config(self, _connection: Connection) -> PairingConfig:
        return PairingConfig(
            sc=True,
            mitm=self.passkey_provider is not None,
            bonding=True,
            identity_address_type=PairingConfig.AddressType.RANDOM,
            delegate=_KeyboardDelegate(self.passkey_provider, self.peer_label, self),
        )

    async def is_bonded(self, peer_address: str) -> bool:
        device = await self.device()
        return device.keystore is not None and await device.keystore.get(peer_address) is not None

    async def forget(self, peer_address: str) -> None:
        device = await self.device()
        if device.keystore is not None:
            with contextlib.suppress(KeyError):
                await device.keystore.delete(peer_address)

    async def close(self) -> None:
        """Power the host off and close the transport (idempotent)."""
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):  # the transport may already be gone
                await device.power_off()
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.close()
