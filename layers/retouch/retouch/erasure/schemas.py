"""Account deletion DTOs: the confirmation a deletion takes and its answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from retouch.auth.schemas import MAX_PASSWORD_LENGTH
from retouch.core.schemas import RequestSchema, Schema


class AccountDeletion(RequestSchema):
    """`DELETE /v1/me`: the account's password, to confirm."""

    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class AccountDeletionRead(Schema):
    """The account is deleted: it no longer signs in, and its data is erased within
    `erased_within_s` seconds."""

    status: Literal["deleting"] = "deleting"
    erased_within_s: int
