"""The authorization characteristic of a t:slim X2 with the 6-digit code (newer firmware,
API 3.2): which J-PAKE message answers which, per link, and what the pump remembers.

Protocol: emulator.protocols.tandem_jpake (pumpX2's JpakeAuthBuilder flow). The pump keeps
the derived secret of the last app that completed a full exchange (the paired phone): a new
link may then skip rounds one and two and confirm with Jpake3/Jpake4 alone. Choices the
public source does not make (docs/protocols/tandem.md): a wrong code or unknown secret gets a
Jpake4KeyConfirmationResponse with a hash digest of 32 zero bytes and the link stays
unauthenticated; a malformed message or a proof that does not verify gets no answer and the
exchange is forgotten; pairing another phone (a new code) forgets the saved secret.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from emulator.protocols import tandem_constants as c
from emulator.protocols import tandem_jpake as j

logger = logging.getLogger(__name__)


@dataclass
class JpakeLink:
    """What one link has done so far; ``key`` is set once it is authenticated."""

    exchange: j.PumpJpake | None = None
    secret: bytes | None = None
    device_nonce: bytes | None = None
    key: bytes | None = None


@dataclass(frozen=True)
class Answer:
    opcode: int
    cargo: bytes


class JpakeAuthorizer:
    """The pump's side of J-PAKE pairing and confirmation with the code on its screen."""

    def __init__(
        self,
        code: str,
        *,
        scalar: Callable[[], int] = j.random_scalar,
        nonce: Callable[[], bytes] = j.new_nonce,
    ) -> None:
        self.code = j.normalize_six_digit(code)
        self.saved_secret: bytes | None = None
        """Derived secret of the paired app (None until an app completes a full exchange)."""
        self._scalar = scalar
        self._nonce = nonce

    def change_code(self, code: str) -> None:
        """Another phone is being paired: a new code, and the old app's secret is forgotten."""
        self.code = j.normalize_six_digit(code)
        self.saved_secret = None

    def answer(self, link: JpakeLink, opcode: int, cargo: bytes) -> Answer | None:
        """The response to one authorization request (None: no answer)."""
        try:
            return self._answer(link, opcode, cargo)
        except j.JpakeError as error:
            logger.info("J-PAKE: %s: exchange forgotten", error)
            link.exchange, link.secret, link.device_nonce = None, None, None
            return None

    def _answer(self, link: JpakeLink, opcode: int, cargo: bytes) -> Answer | None:
        if opcode == c.JPAKE_1A_REQUEST:
            link.exchange = j.PumpJpake(self.code, self._scalar)
            link.secret, link.device_nonce, link.key = None, None, None
            return Answer(c.JPAKE_1A_RESPONSE, link.exchange.round1a(cargo))
        if opcode == c.JPAKE_1B_REQUEST:
            return Answer(c.JPAKE_1B_RESPONSE, self._exchange(link, opcode).round1b(cargo))
        if opcode == c.JPAKE_2_REQUEST:
            exchange = self._exchange(link, opcode)
            response = exchange.round2(cargo)
            link.secret = exchange.derived_secret
            return Answer(c.JPAKE_2_RESPONSE, response)
        if opcode == c.JPAKE_3_REQUEST:
            app = j.parse_session_key_request(cargo)
            if link.secret is None:  # confirmation only: the secret of the paired app
                link.secret = self.saved_secret
            link.device_nonce, link.key = self._nonce(), None
            return Answer(c.JPAKE_3_RESPONSE, j.session_key_response(app, link.device_nonce))
        if opcode == c.JPAKE_4_REQUEST:
            return self._confirm(link, j.parse_key_confirmation(cargo))
        return None

    def _exchange(self, link: JpakeLink, opcode: int) -> j.PumpJpake:
        if link.exchange is None:
            raise j.JpakeError(f"J-PAKE request {opcode}", "no Jpake1aRequest before it")
        return link.exchange

    def _confirm(self, link: JpakeLink, request: j.KeyConfirmation) -> Answer:
        if link.device_nonce is None:
            raise j.JpakeError("Jpake4KeyConfirmationRequest", "no Jpake3 before it")
        secret, pump_nonce = link.secret, self._nonce()
        key = j.session_key(link.device_nonce, secret) if secret is not None else None
        if key is not None and hmac.compare_digest(
            j.confirmation_digest(key, request.nonce), request.hash_digest
        ):
            link.key, self.saved_secret = key, secret
            digest = j.confirmation_digest(key, pump_nonce)
        else:
            logger.info("J-PAKE: key confirmation failed (wrong code or unknown secret)")
            link.key, digest = None, bytes(32)
        link.exchange, link.secret, link.device_nonce = None, None, None
        return Answer(
            c.JPAKE_4_RESPONSE,
            j.key_confirmation_response(request.app_instance_id, pump_nonce, digest),
        )
