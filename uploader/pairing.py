"""Passkey providers: where the 6-digit code a device displays comes from.

Bluetooth LE Secure Connections with passkey entry: the device shows six digits, the
collector's user types them. A provider is an async callable that gets a label of the
device and returns the code. The CLI prompts the person; ``--passkey`` fixes it for
scripted benches; tests and the bench rig read the emulator's or the device's display.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from uploader.errors import PairingFailed, UsageError

PasskeyProvider = Callable[[str], Awaitable[int]]


def parse_passkey(text: str) -> int:
    """A passkey from six digits (``UsageError`` otherwise)."""
    cleaned = text.strip().replace(" ", "")
    if len(cleaned) != 6 or not cleaned.isdigit():
        raise UsageError(f"A passkey is the 6 digits the device shows, e.g. 123456; got {text!r}.")
    return int(cleaned)


def fixed_passkey(text: str) -> PasskeyProvider:
    code = parse_passkey(text)

    async def provide(_label: str) -> int:
        return code

    return provide


def terminal_prompt(ask: Callable[[str], str] = input, attempts: int = 3) -> PasskeyProvider:
    """Ask the person at the terminal, re-asking on a typo (not on a wrong code: the device
    decides that, and then pairing fails with ``PairingFailed``)."""

    async def provide(label: str) -> int:
        for _ in range(attempts):
            try:
                answer = await asyncio.to_thread(ask, f"Enter the 6-digit code shown on {label}: ")
            except EOFError:
                raise PairingFailed(
                    "The device asks for its 6-digit code and there is no terminal to type it "
                    "into.",
                    hint="Give it with --passkey NNNNNN, or run the upload interactively.",
                ) from None
            try:
                return parse_passkey(answer)
            except UsageError as error:
                print(error.message)
        raise PairingFailed("No valid 6-digit code was entered.")

    return provide


CodeProvider = Callable[[str], Awaitable[str]]
"""A pairing code as the device shows it (Tandem t:slim X2: 16 characters), not only digits."""


def fixed_code(text: str) -> CodeProvider:
    async def provide(_label: str) -> str:
        return text

    return provide


def terminal_code_prompt(ask: Callable[[str], str] = input) -> CodeProvider:
    """Ask the person at the terminal for the code the device shows, as it shows it."""

    async def provide(label: str) -> str:
        try:
            return await asyncio.to_thread(ask, f"Enter the pairing code shown on {label}: ")
        except EOFError:
            raise PairingFailed(
                "The device asks for its pairing code and there is no terminal to type it into.",
                hint="Give it with --pairing-code CODE, or run the upload interactively once "
                "(the code is remembered for this device).",
            ) from None

    return provide
