"""Alerts (`retouch.alerts`): where notifications go and how they are sent. The webhook URLs,
the DingTalk signing secret and the SMTP password are secrets: these settings hold only
references to them (`retouch.core.secrets`), never the values; see docs/observability.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE


class AlertSettings(SettingsGroup):
    """The notifiers of the `monitor` job and the language of their messages."""

    alerts_language: Literal["zh-CN", "en"] = Field(
        "zh-CN", description="language of alert messages (zh-CN or en)"
    )
    alerts_send_timeout_s: float = Field(
        5.0, gt=0, le=30, description="timeout of one webhook call or SMTP session"
    )
    alerts_claim_s: int = Field(
        120,
        ge=10,
        le=3600,
        description="how long a monitor run owns a notification it is sending; a run that "
        "died is retried by the next run after this",
    )
    alerts_dingtalk_webhook_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="reference to the secret holding the DingTalk robot's webhook URL "
        "(with its access_token); empty: no DingTalk",
    )
    alerts_dingtalk_sign_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="reference to the DingTalk robot's signing secret (SEC…); empty: unsigned",
    )
    alerts_wecom_webhook_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="reference to the secret holding the WeCom group robot's webhook URL "
        "(with its key); empty: no WeCom",
    )
    alerts_smtp_host: str = Field("", description="SMTP server; empty: no email")
    alerts_smtp_port: int = Field(465, ge=1, le=65535, description="SMTP port")
    alerts_smtp_security: Literal["ssl", "starttls", "none"] = Field(
        "ssl", description="ssl (implicit TLS), starttls, or none (the loopback sink only)"
    )
    alerts_smtp_user: str = Field("", description="SMTP user; empty: no AUTH")
    alerts_smtp_password_secret: str = Field(
        "", pattern=STORE_REFERENCE, description="reference to the SMTP password"
    )
    alerts_email_from: str = Field("", description="From address of alert emails")
    alerts_email_to: str = Field(
        "", description="comma-separated recipients of alert emails; empty: no email"
    )
    alerts_tencent_namespace: str = Field(
        "QCE/CUSTOM",
        min_length=1,
        max_length=64,
        description="Cloud Monitor namespace the SCF monitor reads the custom metrics back from "
        "(GetMonitorData, DescribeBaseMetrics); unverified on a real account: "
        "docs/deploy-tencent.md",
    )
