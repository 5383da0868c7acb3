"""Payments (`retouch.payments`): the local provider `fake`'s outage switch, so a refund
whose gateway call fails can be shown and retried on the local stack (docs/payments.md)."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class PaymentSettings(SettingsGroup):
    """The local payment provider."""

    payments_fake_outage: bool = Field(
        False,
        description="the local provider `fake` answers every refund call with an outage "
        "(503 SERVICE_UNAVAILABLE; the order stays refunding, asking again sends it again); "
        "local, test and dev stages only, as the provider is",
    )
