"""What every Tencent Cloud API client of the queue needs: the caller's credential and an
HTTP profile (a loopback fake's endpoint in tests). The SDK is imported on first use."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from retouch.core.settings import scf_role_credentials

TIMEOUT_S = 5


def tencent_credential() -> Any:
    """The SCF execution role's temporary credential, else the SDK's own provider chain."""
    from tencentcloud.common import credential

    role = scf_role_credentials()
    if role is None:
        return credential.DefaultCredentialProvider().get_credentials()
    return credential.Credential(
        role.secret_id, role.secret_key.get_secret_value(), role.token.get_secret_value() or None
    )


def client_profile(endpoint: str | None) -> Any:
    """A 5-second client profile, against `endpoint` (scheme://host[:port]) when given."""
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    if not endpoint:
        return ClientProfile(httpProfile=HttpProfile(reqTimeout=TIMEOUT_S))
    parts = urlsplit(endpoint)
    http_profile = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=TIMEOUT_S)
    return ClientProfile(httpProfile=http_profile)
