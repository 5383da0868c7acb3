"""Which payment providers this stage offers, by the name in their notification URL."""

from __future__ import annotations

from retouch.core.errors import NotFound
from retouch.core.settings import Settings
from retouch.payments.fake import STAGES, FakePaymentProvider, fake_key
from retouch.payments.port import PaymentPort


def payment_provider(settings: Settings, name: str) -> PaymentPort:
    """The provider adapter called `name`; NotFound when none is offered on this stage."""
    if name == "fake" and settings.stage in STAGES:
        return FakePaymentProvider(fake_key(settings), outage=settings.payments_fake_outage)
    raise NotFound("No such payment provider")
