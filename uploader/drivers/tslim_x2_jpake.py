"""Pairing a Tandem t:slim X2 with its 6-digit code (newer firmware): the J-PAKE exchange on
the authorization characteristic, as the driver runs it (the messages and the math are in
``uploader.protocols.tandem_jpake``; docs/protocols/tandem-host.md).

Two ways in:

- ``pair``: the full exchange with the code the pump shows: Jpake1a, Jpake1b, Jpake2 (the
  pump's proofs checked), then the confirmation; gives the derived secret, which the
  driver keeps for this pump (never the code);
- ``confirm``: a reconnect with that saved derived secret: only Jpake3 and Jpake4.

Either way the result is the connection's session key (it signs signed messages). The pump's
confirmation digest is checked: when it does not match (the pump worked from another code,
or was paired again and forgot the secret) the answer is ``Refused``; a proof that does not
verify is ``JpakeError`` naming it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from uploader.protocols import tandem_jpake as jp
from uploader.protocols.tandem import Message

Ask = Callable[[Message], Awaitable[Message]]
"""Send one request on the authorization characteristic and return the pump's answer."""
NextTransaction = Callable[[], int]


@dataclass(frozen=True)
class Accepted:
    """The pump confirmed the exchange."""

    derived_secret: bytes
    session_key: bytes


@dataclass(frozen=True)
class Refused:
    """The pump's confirmation digest did not match ours: it does not hold the same key."""


async def pair(
    ask: Ask,
    next_transaction: NextTransaction,
    code: str,
    app_instance_id: int = 0,
    client: jp.JpakeClient | None = None,
    nonce: Callable[[], bytes] | None = None,
) -> Accepted | Refused:
    """The full exchange with the 6-digit ``code`` (``client``/``nonce``: fixed in tests)."""
    me = client or jp.JpakeClient(jp.code_password(code))
    mine = me.round_one()
    halves = []
    for request, response, part in (
        (jp.JPAKE_1A_REQUEST, jp.JPAKE_1A_RESPONSE, mine[: jp.HALF_ROUND_SIZE]),
        (jp.JPAKE_1B_REQUEST, jp.JPAKE_1B_RESPONSE, mine[jp.HALF_ROUND_SIZE :]),
    ):
        message = jp.round_request(request, next_transaction(), app_instance_id, part)
        halves.append(jp.parse_round_response(await ask(message), response))
    me.read_round_one(halves[0] + halves[1])
    message = jp.round_request(
        jp.JPAKE_2_REQUEST, next_transaction(), app_instance_id, me.round_two()
    )
    me.read_round_two(jp.parse_round_response(await ask(message), jp.JPAKE_2_RESPONSE))
    return await confirm(ask, next_transaction, me.derived_secret(), app_instance_id, nonce)


async def confirm(
    ask: Ask,
    next_transaction: NextTransaction,
    derived_secret: bytes,
    app_instance_id: int = 0,
    nonce: Callable[[], bytes] | None = None,
) -> Accepted | Refused:
    """Jpake3 then Jpake4 with ``derived_secret``: the confirmation of a full exchange, or on
    its own a reconnect to a pump paired before."""
    request = jp.session_key_request(next_transaction(), app_instance_id)
    pump_nonce = jp.parse_session_key_response(await ask(request))
    key = jp.session_key(derived_secret, pump_nonce)
    my_nonce = (nonce or (lambda: secrets.token_bytes(jp.NONCE_SIZE)))()
    request = jp.key_confirmation_request(
        next_transaction(),
        app_instance_id,
        my_nonce,
        jp.confirmation_digest(key, my_nonce),
    )
    answer = jp.parse_key_confirmation_response(await ask(request))
    if not jp.pump_confirms(key, answer):
        return Refused()
    return Accepted(derived_secret, key)
