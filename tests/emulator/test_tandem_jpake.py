"""The 6-digit code of newer t:slim X2 firmware (EC-JPAKE), pump side, against
tests/vectors/tandem/jpake.json: mbed TLS's public EC-JPAKE self-test (proofs and premaster
secret), the worked exchange byte for byte, a wrong code and a forged proof refused; then the
GATT server over a Bumble link with a raw client replaying the vectors' messages: pairing,
status and a signed message with the J-PAKE key, a wrong code, re-authentication on a new
link with the saved secret (no new pairing), and pairing another phone."""

from __future__ import annotations

import asyncio
import binascii
import json
import logging
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from bumble.core import UUID
from ecdsa import NIST256p
from typer.testing import CliRunner

from emulator.ble import Air
from emulator.ble.process import EmulatorOptions, build_device
from emulator.ble.tslim_x2 import TslimX2
from emulator.ble.tslim_x2_jpake import JpakeAuthorizer
from emulator.cli import app
from emulator.devices.tslim_x2_pump import TslimX2Pump
from emulator.generators.pump_history import generate_pump_history
from emulator.protocols import tandem_jpake as j

if TYPE_CHECKING:
    from tests.emulator.conftest import Central, Link

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "tandem" / "jpake.json").read_text()
)
EXCHANGE: dict[str, Any] = VECTORS["exchange"]
CODE = EXCHANGE["pairing_code"]
G = NIST256p.generator
END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
STATUS = UUID("7B83FFF6-9F77-4E5C-8064-AAE2C24838B9")
AUTH = UUID("7B83FFF9-9F77-4E5C-8064-AAE2C24838B9")
CONTROL = UUID("7B83FFFC-9F77-4E5C-8064-AAE2C24838B9")


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def steps(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in section["steps"]}


def pump_scalars() -> Callable[[], int]:
    private = EXCHANGE["private"]
    values = iter(int(private[k], 16) for k in ("x3", "v3", "x4", "v4", "v_pump_round2"))
    return lambda: next(values)


def nonces(*hexes: str) -> Callable[[], bytes]:
    values: Iterator[bytes] = iter(hx(h) for h in hexes)
    return lambda: next(values)


# ---- the math: mbed TLS's reference handshake ------------------------------------------------


def test_mbedtls_reference_handshake_proofs_verify_and_both_sides_derive_its_secret() -> None:
    mb = VECTORS["public_vectors"]["mbedtls_ecjpake_self_test"]
    x1, x2, x3, x4 = (int(mb[k], 16) for k in ("x1", "x2", "x3", "x4"))
    s = j.secret_number(mb["password_ascii"])
    cli_one, srv_one = hx(mb["cli_one"]), hx(mb["srv_one"])
    big_x1, at = j.read_key("cli_one", cli_one, 0, G, b"client")
    big_x2, at = j.read_key("cli_one", cli_one, at, G, b"client")
    assert at == len(cli_one) and (big_x1, big_x2) == (G * x1, G * x2)
    big_x3, at = j.read_key("srv_one", srv_one, 0, G, b"server")
    big_x4, _ = j.read_key("srv_one", srv_one, at, G, b"server")
    assert (big_x3, big_x4) == (G * x3, G * x4)
    srv_two, cli_two = hx(mb["srv_two"]), hx(mb["cli_two"])
    assert srv_two[:3] == bytes([3, 0, 0x17])
    big_xs, _ = j.read_key("srv_two", srv_two, 3, big_x1 + big_x2 + big_x3, b"server")
    big_xc, _ = j.read_key("cli_two", cli_two, 0, big_x3 + big_x4 + big_x1, b"client")
    assert j.derive_secret(big_xc, big_x2, x4, s).hex() == mb["pms"]  # the server's
    assert j.derive_secret(big_xs, big_x4, x2, s).hex() == mb["pms"]  # the client's
    with pytest.raises(j.JpakeError, match="proof"):  # the proof is bound to the id
        j.read_key("cli_one", cli_one, 0, G, b"server")


# ---- the worked exchange, message by message ---------------------------------------------------


def test_the_pump_answers_the_vector_exchange_byte_for_byte() -> None:
    messages = steps(EXCHANGE)
    pump = j.PumpJpake(CODE, pump_scalars())
    for request, response, answer in (
        ("Jpake1aRequest", "Jpake1aResponse", pump.round1a),
        ("Jpake1bRequest", "Jpake1bResponse", pump.round1b),
        ("Jpake2Request", "Jpake2Response", pump.round2),
    ):
        assert answer(hx(messages[request]["cargo"])).hex() == messages[response]["cargo"]
    assert (
        pump.derived_secret is not None and pump.derived_secret.hex() == EXCHANGE["derived_secret"]
    )
    key = j.session_key(hx(EXCHANGE["device_key_nonce"]), pump.derived_secret)
    assert key.hex() == EXCHANGE["hkdf_key"] == VECTORS["signed"]["authentication_key"]
    assert (
        j.confirmation_digest(key, hx(EXCHANGE["app_nonce4"])).hex()
        == (EXCHANGE["app_hash_digest4"])
    )
    confirm = j.parse_key_confirmation(hx(messages["Jpake4KeyConfirmationRequest"]["cargo"]))
    assert confirm.nonce.hex() == EXCHANGE["app_nonce4"]
    assert confirm.app_instance_id == EXCHANGE["app_instance_id"]


def test_the_app_keys_in_the_messages_are_the_vectors_private_keys() -> None:
    messages = steps(EXCHANGE)
    whole = (
        hx(messages["Jpake1aRequest"]["cargo"])[2:] + hx(messages["Jpake1bRequest"]["cargo"])[2:]
    )
    x1, at = j.read_key("round one", whole, 0, G, b"client")
    x2, _ = j.read_key("round one", whole, at, G, b"client")
    private = EXCHANGE["private"]
    assert (x1, x2) == (G * int(private["x1"], 16), G * int(private["x2"], 16))


def test_a_wrong_code_gives_another_secret() -> None:
    messages, wrong = steps(EXCHANGE), VECTORS["wrong_code"]
    pump = j.PumpJpake(CODE, pump_scalars())
    pump.round1a(hx(messages["Jpake1aRequest"]["cargo"]))
    pump.round1b(hx(messages["Jpake1bRequest"]["cargo"]))
    app = EXCHANGE["app_instance_id"].to_bytes(2, "little")
    pump.round2(app + hx(wrong["app_round2"]))
    assert pump.derived_secret is not None
    assert pump.derived_secret.hex() == wrong["pump_derived_secret"] != wrong["app_derived_secret"]


def test_a_forged_proof_is_refused() -> None:
    messages = steps(EXCHANGE)
    app = EXCHANGE["app_instance_id"].to_bytes(2, "little")
    forged = hx(VECTORS["tampered_zkp"]["app_round1"])
    pump = j.PumpJpake(CODE, pump_scalars())
    pump.round1a(app + forged[:165])
    with pytest.raises(j.JpakeError, match="zero-knowledge proof"):
        pump.round1b(app + forged[165:])
    with pytest.raises(j.JpakeError, match="round one"):
        pump.round2(hx(messages["Jpake2Request"]["cargo"]))


@pytest.mark.parametrize("shown", ["12345", "1234567", "12a456", "ABCD-EFGH-JKLM-NPQR"])
def test_only_six_digits_make_a_jpake_code(shown: str) -> None:
    assert not j.is_six_digit(shown)
    with pytest.raises(j.JpakeError, match="6 digits"):
        j.normalize_six_digit(shown)


# ---- the GATT server, over the air -------------------------------------------------------------


def frame(opcode: int, txid: int, cargo: bytes, size: int = 18) -> list[bytes]:
    body = bytes([opcode, txid, len(cargo)]) + cargo
    message = body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))
    parts = [message[i : i + size] for i in range(0, len(message), size)]
    return [bytes([len(parts) - 1 - n, txid]) + p for n, p in enumerate(parts)]


class Client:
    """A raw app: replays the vectors' requests and returns what the pump notifies."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.queues: dict[UUID, asyncio.Queue[bytes]] = {}

    async def open(self) -> Client:
        for uuid in (STATUS, AUTH):
            self.queues[uuid] = await self.link.subscribe(uuid)
        return self

    async def write(self, uuid: UUID, chunks: list[bytes]) -> None:
        for part in chunks:
            await self.link.write(uuid, part)

    async def receive(self, uuid: UUID) -> bytes:
        """The whole message (header, cargo, CRC) next notified on ``uuid``."""
        body = b""
        while True:
            part = await asyncio.wait_for(self.queues[uuid].get(), 5)
            body += part[2:]
            if part[0] == 0:
                return body

    async def replay(self, section: dict[str, Any], *names: str) -> None:
        """Send each request of ``names`` and check the pump's answer is the vector's."""
        for name in names:
            request = section[name + "Request"]
            await self.write(AUTH, [hx(c) for c in request["chunks"]])
            answer = await self.receive(AUTH)
            assert answer.hex() == section[name + "Response"]["message"], name


async def connect(central: Central, pump: TslimX2) -> Client:
    return await Client(await central.connect(pump.address)).open()


@pytest.fixture(scope="module")
def pump_history() -> TslimX2Pump:
    model = generate_pump_history(6, timezone="UTC", end=END, days=1)
    return TslimX2Pump(model, seed=6, timezone="UTC")


@pytest.fixture
async def pump(air: Air, pump_history: TslimX2Pump) -> AsyncIterator[TslimX2]:
    device = TslimX2(pump_history, pairing_code=CODE)
    await device.start(air)
    yield device
    await device.stop()


def deterministic(device: TslimX2, *pump_nonces: str) -> None:
    """The pump draws the vectors' private keys and nonces instead of random ones."""
    device.jpake = JpakeAuthorizer(CODE, scalar=pump_scalars(), nonce=nonces(*pump_nonces))


FULL = ("Jpake1a", "Jpake1b", "Jpake2", "Jpake3SessionKey", "Jpake4KeyConfirmation")


async def status_api_version(client: Client) -> tuple[int, int]:
    await client.write(STATUS, frame(32, 7, b""))
    answer = await client.receive(STATUS)
    assert answer[0] == 33
    major, minor = struct.unpack("<HH", answer[3:7])
    return major, minor


@pytest.mark.anyio
async def test_pairing_with_the_six_digit_code_over_the_air(
    pump: TslimX2, central: Central, caplog: pytest.LogCaptureFixture
) -> None:
    deterministic(pump, EXCHANGE["device_key_nonce"], EXCHANGE["pump_nonce4"])
    client = await connect(central, pump)
    await client.replay(steps(EXCHANGE), *FULL)
    assert pump.authentications == 1
    assert await status_api_version(client) == (3, 2)  # API 3.2: the J-PAKE firmware
    signed = VECTORS["signed"]
    caplog.set_level(logging.INFO, logger="emulator.ble.tslim_x2")
    await client.write(CONTROL, [hx(c) for c in signed["chunks"]])
    tampered = hx(signed["tampered"]["message"])
    await client.write(
        CONTROL, frame(signed["opcode"], signed["transaction_id"], tampered[3:-2], 40)
    )
    await status_api_version(client)  # both control writes handled before this answer
    refused = [r for r in caplog.records if "control" in r.getMessage()]
    assert len(refused) == 1 and "HMAC-SHA1 does not match" in refused[0].getMessage()


@pytest.mark.anyio
async def test_a_wrong_code_is_refused_at_key_confirmation(pump: TslimX2, central: Central) -> None:
    wrong = VECTORS["wrong_code"]
    deterministic(pump, EXCHANGE["device_key_nonce"], EXCHANGE["pump_nonce4"])
    client = await connect(central, pump)
    await client.replay(steps(EXCHANGE), "Jpake1a", "Jpake1b")
    app = EXCHANGE["app_instance_id"].to_bytes(2, "little")
    await client.write(AUTH, frame(36, 2, app + hx(wrong["app_round2"])))
    assert (await client.receive(AUTH))[0] == 37
    await client.write(AUTH, frame(38, 3, app))
    assert (await client.receive(AUTH))[0] == 39
    confirm = app + hx(EXCHANGE["app_nonce4"]) + bytes(8) + hx(wrong["app_hash_digest4"])
    await client.write(AUTH, frame(40, 4, confirm))
    answer = await client.receive(AUTH)
    assert answer[0] == 41 and answer[3:-2].hex() == wrong["pump_response4_cargo"]
    assert pump.authentications == 0 and pump.jpake is not None
    assert pump.jpake.saved_secret is None
    await client.write(STATUS, frame(32, 5, b""))
    await asyncio.wait_for(client.link.disconnected.wait(), 5)
    assert client.queues[STATUS].empty()


@pytest.mark.anyio
async def test_a_new_link_confirms_with_the_saved_secret_without_pairing_again(
    pump: TslimX2, central: Central
) -> None:
    again = VECTORS["reauthentication"]
    deterministic(
        pump,
        EXCHANGE["device_key_nonce"],
        EXCHANGE["pump_nonce4"],
        again["device_key_nonce"],
        steps(again)["Jpake4KeyConfirmationResponse"]["decoded"]["nonce"],
    )
    first = await connect(central, pump)
    await first.replay(steps(EXCHANGE), *FULL)
    await first.link.disconnect()
    second = await connect(central, pump)
    await second.replay(steps(again), "Jpake3SessionKey", "Jpake4KeyConfirmation")
    assert pump.authentications == 2
    assert await status_api_version(second) == (3, 2)


@pytest.mark.anyio
async def test_after_pairing_another_phone_the_saved_secret_fails(
    pump: TslimX2, central: Central
) -> None:
    again = steps(VECTORS["reauthentication"])
    deterministic(pump, EXCHANGE["device_key_nonce"], EXCHANGE["pump_nonce4"], "00" * 8, "11" * 8)
    first = await connect(central, pump)
    await first.replay(steps(EXCHANGE), *FULL)
    await first.link.disconnect()
    pump.pair_another_phone("654321")
    assert pump.display == "654321" and pump.code == "654321"
    second = await connect(central, pump)
    await second.write(AUTH, [hx(c) for c in again["Jpake3SessionKeyRequest"]["chunks"]])
    assert (await second.receive(AUTH))[0] == 39
    await second.write(AUTH, [hx(c) for c in again["Jpake4KeyConfirmationRequest"]["chunks"]])
    answer = await second.receive(AUTH)
    assert answer[0] == 41 and answer[-34:-2] == bytes(32)
    assert pump.authentications == 1
    with pytest.raises(j.JpakeError):
        pump.pair_another_phone("ABCD-EFGH-JKLM-NPQR")


@pytest.mark.anyio
async def test_the_sixteen_character_challenge_drops_the_link(
    pump: TslimX2, central: Central
) -> None:
    client = await connect(central, pump)
    await client.write(AUTH, frame(16, 0, struct.pack("<H", 7) + bytes(8)))
    await asyncio.wait_for(client.link.disconnected.wait(), 5)
    assert client.queues[AUTH].empty()


# ---- diahil emulate tslim-x2 --passkey 123456 ---------------------------------------------------


def test_the_cli_builds_a_jpake_pump_from_six_digits_and_refuses_other_codes() -> None:
    options = EmulatorOptions(kind="tslim-x2", hci="tcp-server:127.0.0.1:0", days=1)
    device = build_device(replace(options, pairing_code="123456"))
    assert isinstance(device, TslimX2) and device.jpake is not None
    assert device.display == "123456" and device.pump.api_version == (3, 2)
    result = CliRunner().invoke(
        app, ["tslim-x2", "--hci", "tcp-server:127.0.0.1:0", "--passkey", "12345"]
    )
    assert result.exit_code == 2
    assert "6 digits" in result.output + (result.stderr if result.stderr_bytes else "")
