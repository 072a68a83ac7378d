"""Reading HTTP Basic credentials (RFC 7617) for POST /auth/login.

reference/common/security/basicauth.v1.yaml: the client sends
``Authorization: Basic base64(email:password)``. A missing or malformed header is a 400
that says how to send it; checking the credentials themselves is ``accounts``' job.
"""

from __future__ import annotations

import base64
import binascii

from mock_cloud.errors import bad_request

_HOW = "send Authorization: Basic <base64 of email:password>"


def parse_basic_credentials(header: str | None) -> tuple[str, str]:
    """(email, password) from an Authorization header; 400 if missing or not Basic."""
    if header is None or not header.strip():
        raise bad_request(f"missing Authorization header; {_HOW}")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise bad_request(f"Authorization scheme {scheme!r} is not supported; {_HOW}")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad_request(
            f"Authorization header is not valid base64 of UTF-8 text; {_HOW}"
        ) from None
    email, colon, password = decoded.partition(":")
    if not colon or not email:
        raise bad_request(f"Authorization header has no email:password pair; {_HOW}")
    return email, password
