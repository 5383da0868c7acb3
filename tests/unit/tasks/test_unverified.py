"""Task creation by a caller whose address is not verified: refused with EMAIL_NOT_VERIFIED
before anything is read or reserved, while unverified accounts have no allowance."""

from __future__ import annotations

import dataclasses

import pytest

from retouch.users.errors import EmailNotVerified
from tests.unit.task_support import ALICE, Shop


def test_an_unverified_caller_cannot_create_a_task_and_nothing_is_reserved() -> None:
    shop = Shop.open()
    unverified = dataclasses.replace(
        ALICE, user=dataclasses.replace(ALICE.user, email_verified_at=None)
    )
    image = shop.upload(ALICE)
    commits = shop.database.commits

    with pytest.raises(EmailNotVerified) as refused:
        shop.create(unverified, inputs={"image": image})

    assert refused.value.error_code.status == 403
    assert shop.balance(ALICE) == (10, 0)
    assert shop.queue.published == [] and shop.database.commits == commits
    # the same caller verified is served
    assert shop.create(ALICE, inputs={"image": image}).status == "queued"
