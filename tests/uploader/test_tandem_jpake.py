"""The host side of t:slim X2 pairing with the 6-digit code (EC-JPAKE), judged by public
vectors (mbed TLS's EC-JPAKE self-test, in tests/vectors/tandem/jpake.json as published)
and by the worked exchange in tests/vectors/tandem/jpake.json (written by the emulator side):
the math, every message byte for byte, the confirmation, a wrong code, a bad proof, a
reconnect with the saved secret, and the key that signs signed messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from uploader.drivers import tslim_x2_jpake as pairing
from uploader.drivers.tslim_x2 import TandemCodeStore, TslimX2Driver
from uploader.errors import ExitCode, PairingFailed
from uploader.protocols import tandem
from uploader.protocols import tandem_jpake as jp
from uploader.protocols.tandem import FrameError, Joiner, Message
from uploader.transports.ble import Advertisement

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "tandem" / "jpake.json").read_text()
)
MBEDTLS = VECTORS["public_vectors"]["mbedtls_ecjpake_self_test"]
EXCHANGE = VECTORS["exchange"]


def _b(text: str) -> bytes:
    return bytes.fromhex(text)


def _n(text: str) -> int:
    return int(text, 16)


def _scalars(*names: str, private: dict[str, str] = EXCHANGE["private"]) -> Callable[[], int]:
    values: Iterator[int] = iter(_n(private[name]) for name in names)
    return lambda: next(values)


def _app(code: str = EXCHANGE["pairing_code"]) -> jp.JpakeClient:
    """The app of the worked exchange: its private values in the order it draws them."""
    return jp.JpakeClient(jp.code_password(code), _scalars("x1", "v1", "x2", "v2", "v_app_round2"))


def _decoded(step: dict[str, Any]) -> Message:
    joiner, message = Joiner(), None
    for chunk in step["chunks"]:
        message = joiner.feed(_b(chunk))
    assert message is not None
    return message


class ScriptedPump:
    """Answers each request with the vector's next pump message, after checking that the
    request is, byte for byte, the vector's (the pump's part of the worked exchange)."""

    def __init__(self, steps: list[dict[str, Any]], replace: dict[str, str] | None = None) -> None:
        self.steps = list(steps)
        self.replace = replace or {}

    async def ask(self, request: Message) -> Message:
        expected, answer = self.steps.pop(0), self.steps.pop(0)
        assert expected["direction"] == "app->pump"
        if expected["name"] not in self.replace:
            assert tandem.encode(request).hex() == expected["message"], expected["name"]
            sent = [p.hex() for p in tandem.packets(request)]
            assert sent == expected["chunks"], expected["name"]
        cargo = self.replace.get(answer["name"])
        message = _decoded(answer)
        return Message(message.opcode, message.transaction_id, _b(cargo)) if cargo else message


def _counter() -> Callable[[], int]:
    count = iter(range(256))
    return lambda: next(count)


# -- the math, by mbed TLS's published reference handshake -----------------------------------


def test_mbedtls_reference_handshake_client_side() -> None:
    client = jp.JpakeClient(MBEDTLS["password_ascii"].encode())
    client.load_keys(_n(MBEDTLS["x1"]), _n(MBEDTLS["x2"]))
    client.read_round_one(_b(MBEDTLS["srv_one"]))  # its four proofs verify
    client.read_round_two(_b(MBEDTLS["srv_two"]))
    assert client.derived_secret().hex() == MBEDTLS["pms"]


def test_mbedtls_client_messages_carry_our_keys_and_proofs_that_verify() -> None:
    cli_one, cli_two = _b(MBEDTLS["cli_one"]), _b(MBEDTLS["cli_two"])
    g = jp.generator()
    x1, x2 = jp.mul(g, _n(MBEDTLS["x1"])), jp.mul(g, _n(MBEDTLS["x2"]))
    x3, x4 = jp.mul(g, _n(MBEDTLS["x3"])), jp.mul(g, _n(MBEDTLS["x4"]))
    for half, public in ((cli_one[:165], x1), (cli_one[165:], x2)):
        assert half[1:66] == jp.encode_point(public)
        v_point = jp.decode_point(half[67:132], "V")
        assert jp.proof_holds(g, public, v_point, int.from_bytes(half[133:], "big"), jp.CLIENT_ID)
        assert not jp.proof_holds(g, public, v_point, 1 + int.from_bytes(half[133:]), jp.CLIENT_ID)
    a = jp.decode_point(cli_two[1:66], "A")
    v_point = jp.decode_point(cli_two[67:132], "V")
    r = int.from_bytes(cli_two[133:], "big")
    assert jp.proof_holds(x1 + x3 + x4, a, v_point, r, jp.CLIENT_ID)
    assert not jp.proof_holds(x1 + x3 + x4, a, v_point, r, jp.SERVER_ID)


def test_the_secret_of_a_code_is_its_ascii_digits() -> None:
    assert jp.code_password("123456").hex() == EXCHANGE["secret_s"]
    for bad in ("12345", "1234567", "12345a", "١٢٣٤٥٦"):
        with pytest.raises(ValueError, match="6 digits"):
            jp.code_password(bad)


# -- the worked exchange of jpake.json -------------------------------------------------------


def test_worked_exchange_rounds_secret_and_key() -> None:
    app = _app()
    assert app.round_one().hex() == EXCHANGE["app_round1"]
    app.read_round_one(_b(EXCHANGE["pump_round1"]))
    assert app.round_two().hex() == EXCHANGE["app_round2"]
    app.read_round_two(_b(EXCHANGE["pump_round2"]))
    secret = app.derived_secret()
    assert secret.hex() == EXCHANGE["derived_secret"]
    key = jp.session_key(secret, _b(EXCHANGE["device_key_nonce"]))
    assert key.hex() == EXCHANGE["hkdf_key"] == EXCHANGE["authentication_key"]
    mine = jp.confirmation_digest(key, _b(EXCHANGE["app_nonce4"]))
    assert mine.hex() == EXCHANGE["app_hash_digest4"]
    pumps = jp.KeyConfirmation(_b(EXCHANGE["pump_nonce4"]), _b(EXCHANGE["pump_hash_digest4"]))
    assert jp.pump_confirms(key, pumps)


def test_worked_exchange_message_by_message() -> None:
    pump = ScriptedPump(EXCHANGE["steps"])
    result = asyncio.run(
        pairing.pair(
            pump.ask,
            _counter(),
            EXCHANGE["pairing_code"],
            EXCHANGE["app_instance_id"],
            client=_app(),
            nonce=lambda: _b(EXCHANGE["app_nonce4"]),
        )
    )
    assert not pump.steps
    assert isinstance(result, pairing.Accepted)
    assert result.derived_secret.hex() == EXCHANGE["derived_secret"]
    assert result.session_key.hex() == EXCHANGE["authentication_key"]


def test_the_pumps_answers_parse_to_the_vector_fields() -> None:
    steps = {step["name"]: step for step in EXCHANGE["steps"]}
    three = jp.parse_session_key_response(_decoded(steps["Jpake3SessionKeyResponse"]))
    assert three.hex() == steps["Jpake3SessionKeyResponse"]["decoded"]["device_key_nonce"]
    four = jp.parse_key_confirmation_response(_decoded(steps["Jpake4KeyConfirmationResponse"]))
    decoded = steps["Jpake4KeyConfirmationResponse"]["decoded"]
    assert (four.nonce.hex(), four.digest.hex()) == (decoded["nonce"], decoded["hash_digest"])
    two = _decoded(steps["Jpake2Response"])
    assert jp.parse_round_response(two, jp.JPAKE_2_RESPONSE).hex() == EXCHANGE["pump_round2"]
    with pytest.raises(FrameError, match="expected 167"):
        jp.parse_round_response(Message(33, 0, two.cargo), jp.JPAKE_1A_RESPONSE)
    with pytest.raises(FrameError, match="expected opcode 39"):
        jp.parse_session_key_response(two)


def test_a_wrong_code_is_refused_at_confirmation() -> None:
    wrong = VECTORS["wrong_code"]
    pump = ScriptedPump(
        EXCHANGE["steps"],
        replace={
            "Jpake2Request": "",
            "Jpake4KeyConfirmationRequest": "",
            "Jpake4KeyConfirmationResponse": wrong["pump_response4_cargo"],
        },
    )
    sent: list[Message] = []

    async def ask(request: Message) -> Message:
        sent.append(request)
        return await pump.ask(request)

    result = asyncio.run(
        pairing.pair(
            ask,
            _counter(),
            wrong["app_code"],
            EXCHANGE["app_instance_id"],
            client=_app(wrong["app_code"]),
            nonce=lambda: _b(EXCHANGE["app_nonce4"]),
        )
    )
    assert isinstance(result, pairing.Refused)
    assert sent[2].cargo[2:].hex() == wrong["app_round2"]
    assert sent[-1].cargo[18:].hex() == wrong["app_hash_digest4"]


def test_the_saved_secret_reauthenticates_with_confirmation_only() -> None:
    again = VECTORS["reauthentication"]
    pump = ScriptedPump(again["steps"])
    result = asyncio.run(
        pairing.confirm(
            pump.ask,
            _counter(),
            _b(again["derived_secret"]),
            EXCHANGE["app_instance_id"],
            nonce=lambda: _b(again["steps"][2]["decoded"]["nonce"]),
        )
    )
    assert not pump.steps
    assert isinstance(result, pairing.Accepted)
    assert result.session_key.hex() == again["hkdf_key"]


def test_a_forgotten_secret_is_refused_on_reconnect() -> None:
    again = VECTORS["reauthentication"]
    pump = ScriptedPump(again["steps"], replace={"Jpake4KeyConfirmationRequest": ""})
    result = asyncio.run(
        pairing.confirm(pump.ask, _counter(), bytes(32), EXCHANGE["app_instance_id"])
    )
    assert isinstance(result, pairing.Refused)


def test_signed_messages_use_the_jpake_key() -> None:
    signed = VECTORS["signed"]
    key = _b(signed["authentication_key"])
    cargo = tandem.sign_cargo(
        signed["opcode"],
        signed["transaction_id"],
        _b(signed["plain_cargo"]),
        signed["time_since_reset"],
        key,
    )
    message = Message(signed["opcode"], signed["transaction_id"], cargo)
    assert tandem.encode(message).hex() == signed["message"]
    assert tandem.verify_signature(message, key) == (
        _b(signed["plain_cargo"]),
        signed["time_since_reset"],
    )
    tampered = tandem.decode(_b(signed["tampered"]["message"]))
    with pytest.raises(FrameError, match="wrong HMAC"):
        tandem.verify_signature(tampered, key)


# -- the pump's data refused, naming what is wrong -------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(("at", "named"), [(164, "X3"), (329, "X4"), (100, "proof of X3")])
def test_a_bad_proof_in_the_pumps_round_one_is_named(at: int, named: str) -> None:
    app = _app()
    app.round_one()
    with pytest.raises(jp.JpakeError, match=named):
        app.read_round_one(_flip(_b(EXCHANGE["pump_round1"]), at))


def test_a_bad_proof_in_the_pumps_round_two_is_named() -> None:
    app = _app()
    app.round_one()
    app.read_round_one(_b(EXCHANGE["pump_round1"]))
    app.round_two()
    with pytest.raises(jp.JpakeError, match="round-two key B does not verify"):
        app.read_round_two(_flip(_b(EXCHANGE["pump_round2"]), 167))
    with pytest.raises(jp.JpakeError, match="not P-256"):
        app.read_round_two(b"\x03\x00\x18" + _b(EXCHANGE["pump_round2"])[3:])


def test_a_point_off_the_curve_and_short_data_are_refused() -> None:
    point = _b(EXCHANGE["pump_round1_decoded"][0]["X"])
    with pytest.raises(jp.JpakeError, match="not on the P-256 curve"):
        jp.decode_point(_flip(point, 64), "X3")
    with pytest.raises(jp.JpakeError, match="not an uncompressed"):
        jp.decode_point(point[:33], "X3")
    app = _app()
    app.round_one()
    with pytest.raises(jp.JpakeError, match="330"):
        app.read_round_one(_b(EXCHANGE["pump_round1"])[:300])
    pump_round1 = _b(EXCHANGE["pump_round1"])
    with pytest.raises(jp.JpakeError, match="X3\\) ends inside the proof scalar of X3"):
        app.read_round_one(pump_round1[:132] + b"\x30" + pump_round1[133:])


def test_a_short_scalar_padded_to_the_fixed_cargo_is_read() -> None:
    """A peer writing its proof scalar at minimal length leaves zeros at the end of the
    fixed-size cargo (pumpX2's note: about 1 exchange in 256): still a valid round; other
    bytes there are not."""
    g, x3 = jp.generator(), _n(EXCHANGE["private"]["x3"])
    public = jp.mul(g, x3)
    v_point, r = jp.prove(g, x3, public, jp.SERVER_ID, 408)  # 408: an r below 2**248
    assert r < 2**248
    minimal = r.to_bytes(31, "big")
    half = bytes([65]) + jp.encode_point(public) + bytes([65]) + jp.encode_point(v_point)
    half += bytes([31]) + minimal + b"\x00"
    assert len(half) == jp.HALF_ROUND_SIZE
    pump_round1 = _b(EXCHANGE["pump_round1"])
    app = _app()
    app.round_one()
    app.read_round_one(half + pump_round1[165:])
    app2 = _app()
    app2.round_one()
    with pytest.raises(jp.JpakeError, match="1 bytes after its proof"):
        app2.read_round_one(half[:-1] + b"\x07" + pump_round1[165:])


# -- what is kept per pump -------------------------------------------------------------------


def test_the_code_store_keeps_a_derived_secret_beside_16_character_codes(tmp_path: Path) -> None:
    store = TandemCodeStore(tmp_path / "state" / "tandem-codes.json")
    secret = _b(EXCHANGE["derived_secret"])
    store.put("AA:00", "ABCDEFGHJKLMNPQR")
    store.put_jpake_secret("BB:00", secret)
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert (store.get("AA:00"), store.get_jpake_secret("AA:00")) == ("ABCDEFGHJKLMNPQR", None)
    assert (store.get("BB:00"), store.get_jpake_secret("BB:00")) == (None, secret)
    store.put("BB:00", None)  # a refused secret is forgotten, the other pump's code kept
    assert store.get_jpake_secret("BB:00") is None and store.get("AA:00") == "ABCDEFGHJKLMNPQR"
    store.path.write_text('{"CC:00": {"jpake_derived_secret": "not hex"}}')
    assert store.get_jpake_secret("CC:00") is None  # unreadable: paired again with the code


def test_the_driver_reports_a_bad_proof_as_a_failed_pairing_naming_it(tmp_path: Path) -> None:
    """What the user sees when the pump's round one does not verify: PairingFailed (exit
    code 4) naming the key, nothing kept for the pump."""
    steps = [dict(step) for step in EXCHANGE["steps"]]
    tampered = bytearray(_b(steps[3]["cargo"]))  # Jpake1bResponse: the pump's key X4
    tampered[-1] ^= 0x01
    # the app's rounds are random here (the driver's own client): only the pump's are scripted
    skip = {"Jpake1aRequest": "", "Jpake1bRequest": ""}
    pump = ScriptedPump(steps, replace={**skip, "Jpake1bResponse": bytes(tampered).hex()})
    target = Advertisement("F0:F0:F0:F0:F0:0A", "tslim X2 ***711", None, (), None)  # type: ignore[arg-type]
    store = TandemCodeStore(tmp_path / "tandem-codes.json")
    driver = TslimX2Driver(None, target, codes=store)  # type: ignore[arg-type]

    async def ask(_uuid: str, message: Message, _doing: str) -> Message:
        return await pump.ask(message)

    setattr(driver, "_ask", ask)  # noqa: B010 (the pump's answers, scripted)
    with pytest.raises(PairingFailed) as failed:
        asyncio.run(driver._jpake(EXCHANGE["pairing_code"], None))
    assert failed.value.exit_code == ExitCode.DEVICE_COMMUNICATION
    assert "round-one key X4 does not verify" in failed.value.user_message()
    assert driver.auth_key is None and not store.path.exists()
