"""Request body of sign-up, POST /auth/user (reference/auth/models/newuser.v1.yaml).

``username`` is the login email and must be one of ``emails``; ``password`` follows
common/models/password.v1.yaml (checked by ``accounts``); ``roles`` may hold ``clinic``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from mock_cloud.datatypes.fields import Opt


class NewUser(BaseModel):
    """Body of POST /auth/user."""

    model_config = ConfigDict(extra="forbid")

    username: Annotated[StrictStr, Field(min_length=6)]
    emails: Annotated[list[Annotated[StrictStr, Field(min_length=6)]], Field(min_length=1)]
    password: StrictStr
    roles: Opt[list[Literal["clinic"]]] = None
