"""The secret stores behind `get_secret`, one reader per reference scheme.

AWS stores are read with boto3 (the Lambda runtime ships it) through clients kept for the
instance's life; Tencent SSM with its SDK (`tencentcloud-sdk-python-ssm`, in the layer) through
a client built per read, so it always signs with the SCF role's current temporary keys. Each
reader raises `SecretUnavailable` with the store's error code; nothing here caches values.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from retouch.core.secrets.cache import SecretUnavailable
from retouch.core.settings import get_settings, scf_role_credentials, secret_variable

#: The version Tencent SSM answers with the value in use (its `GetSecretValue` documentation).
TENCENT_CURRENT_VERSION = "SSM_Current"
_TIMEOUT_S = 5
#: Loggers that write whole API responses at DEBUG, a secret's value among them: botocore's
#: response parser and the Tencent SDK's client. They never log below INFO once a secret has
#: been read (this module loads with the first read), whatever the root level.
RESPONSE_LOGGERS = ("botocore.parsers", "tencentcloud_sdk_common")
for _name in RESPONSE_LOGGERS:
    logging.getLogger(_name).setLevel(max(logging.getLogger(_name).level, logging.INFO))


def read(reference: str) -> str:
    """The value `reference` names; SecretUnavailable when it names nothing readable."""
    scheme, _, name = reference.partition(":")
    reader = _READERS.get(scheme)
    if reader is None or not name:
        raise SecretUnavailable(reference, f"unknown secret store {scheme!r}")
    value = reader(reference, name)
    if not value:
        raise SecretUnavailable(reference, "the secret is empty")
    return value


def _read_env(reference: str, name: str) -> str:
    value = secret_variable(name)
    if value is None:
        raise SecretUnavailable(reference, f"{name} is not set")
    return value


def _read_secrets_manager(reference: str, name: str) -> str:
    answer = _aws_call(reference, "secretsmanager", "get_secret_value", SecretId=name)
    if "SecretString" in answer:
        return str(answer["SecretString"])
    return bytes(answer.get("SecretBinary") or b"").decode()


def _read_ssm_parameter(reference: str, name: str) -> str:
    answer = _aws_call(reference, "ssm", "get_parameter", Name=name, WithDecryption=True)
    return str(answer["Parameter"]["Value"])


def _aws_call(reference: str, service: str, operation: str, **parameters: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(_aws_client(service), operation)(**parameters)
    except ClientError as exc:
        raise SecretUnavailable(reference, str(exc.response["Error"].get("Code"))) from None
    except BotoCoreError as exc:
        raise SecretUnavailable(reference, type(exc).__name__) from None


@cache
def _aws_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_TIMEOUT_S, read_timeout=_TIMEOUT_S, retries={"max_attempts": 2}
    )
    endpoint = get_settings().secrets_endpoint_url
    return boto3.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


def _read_tencent_ssm(reference: str, name: str) -> str:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )
    from tencentcloud.ssm.v20190923 import models

    secret_name, _, version = name.partition("@")
    request = models.GetSecretValueRequest()
    request.SecretName = secret_name
    request.VersionId = version or TENCENT_CURRENT_VERSION
    try:
        answer = _tencent_client(reference).GetSecretValue(request)
    except TencentCloudSDKException as exc:
        raise SecretUnavailable(reference, str(exc.get_code() or "SDK error")) from None
    if answer.SecretString:
        return str(answer.SecretString)
    return base64.b64decode(answer.SecretBinary or "").decode()


def _tencent_client(reference: str) -> Any:
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.ssm.v20190923.ssm_client import SsmClient

    settings = get_settings()
    if not settings.secrets_tencent_region:
        raise SecretUnavailable(reference, "RETOUCH_SECRETS_TENCENT_REGION is not set")
    http = HttpProfile(reqTimeout=_TIMEOUT_S)
    if settings.secrets_tencent_endpoint:
        parts = urlsplit(settings.secrets_tencent_endpoint)
        http = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=_TIMEOUT_S)
    role = scf_role_credentials()
    if role is None:
        raise SecretUnavailable(reference, "no SCF role credentials (TENCENTCLOUD_SECRETID)")
    cloud_credential = credential.Credential(
        role.secret_id, role.secret_key.get_secret_value(), role.token.get_secret_value() or None
    )
    return SsmClient(
        cloud_credential, settings.secrets_tencent_region, ClientProfile(httpProfile=http)
    )


def forget_clients() -> None:
    """Drop the AWS clients (their endpoint comes from the settings)."""
    _aws_client.cache_clear()


_READERS: dict[str, Callable[[str, str], str]] = {
    "env": _read_env,
    "secretsmanager": _read_secrets_manager,
    "ssm": _read_ssm_parameter,
    "tcssm": _read_tencent_ssm,
}
