"""Reading an HTML form body (application/x-www-form-urlencoded) without extra packages."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from mock_cloud.errors import bad_request


async def read_form(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a posted form (missing ones are empty); 400 if not a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise bad_request("send the form as application/x-www-form-urlencoded")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the form is not UTF-8 text") from None
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise bad_request("the form has too many fields") from None
    return {name: (parsed.get(name) or [""])[0] for name in fields}
