"""`POST /v1/admin/alerts/test`: one test message through a named channel, so an admin sees
that a webhook, a signing secret or the SMTP settings work before an outage needs them.

The message goes through the very notifier the monitor uses (`alerts.channels`), marked as a
test (rule `test`, summary "Test notification"). A channel this deploy does not configure is
409 `ALERT_CHANNEL_UNCONFIGURED`; one that refuses or cannot be reached is 502
`ALERT_NOT_DELIVERED`. Every attempt is audited (`alerts.test`, with whether it arrived).
"""

from __future__ import annotations

from retouch.alerts.rules import Channel
from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.errors import AppError
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.schemas import Schema, StrictRequestSchema
from retouch.core.settings import Settings
from retouch.core.time import utc_now
from retouch.core.units import Transactions
from retouch.notify.messages import AlertMessage, NotifierError

SUMMARY = {"zh-CN": "测试通知", "en": "Test notification"}


class AlertChannelUnconfigured(AppError):
    """This deploy sends nothing through the channel (no webhook, no SMTP host)."""

    code = "ALERT_CHANNEL_UNCONFIGURED"

    def __init__(self, *, channel: str) -> None:
        super().__init__("No {channel} channel is configured on this deployment", channel=channel)


class AlertNotDelivered(AppError):
    """The channel refused the message or could not be reached."""

    code = "ALERT_NOT_DELIVERED"

    def __init__(self, *, channel: str) -> None:
        super().__init__("The {channel} channel did not accept the test message", channel=channel)


class AlertTest(StrictRequestSchema):
    """The channel to try."""

    channel: Channel


class AlertTestRead(Schema):
    channel: Channel
    delivered: bool


def send_test(
    *, database: Transactions, settings: Settings, actor: Principal, channel: Channel
) -> AlertTestRead:
    """Send the test message through `channel`, audit the attempt, answer or raise."""
    # The HTTP client and the notifiers load with the first test message, not with the admin
    # function's cold start (docs/performance.md).
    import httpx

    from retouch.alerts.channels import build_notifiers

    message = AlertMessage(
        phase="firing",
        rule="test",
        summary=SUMMARY[settings.alerts_language],
        subject="",
        value=None,
        threshold=0,
        severity="warning",
        since=utc_now(),
        language=settings.alerts_language,
    )
    with httpx.Client(timeout=settings.alerts_send_timeout_s, follow_redirects=False) as client:
        notifier = build_notifiers(settings, client).get(channel)
        if notifier is None:
            raise AlertChannelUnconfigured(channel=channel)
        try:
            notifier.send(message)
            delivered = True
        except NotifierError as exc:
            logger.warning(
                "test alert not delivered", extra={"channel": channel, "error": str(exc)}
            )
            delivered = False
    with database.unit_of_work() as uow:
        uow.repository(AuditRepository).add(
            AuditEntry(
                actor_user_id=actor.user.id,
                action="alerts.test",
                target_type="alert_channel",
                target_id=channel,
                after={"delivered": delivered},
            )
        )
        uow.commit()
    if not delivered:
        raise AlertNotDelivered(channel=channel)
    return AlertTestRead(channel=channel, delivered=True)
