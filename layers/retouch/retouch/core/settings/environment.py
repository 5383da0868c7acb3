"""Reading the environment: `RETOUCH_*` variables into `Settings`, provider secrets, and the
Tencent Cloud keys the SCF runtime sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from pydantic import SecretStr, ValidationError

from retouch.core.settings.model import Settings
from retouch.core.settings.storage import DECODER_MAX_PIXELS

ENV_PREFIX = "RETOUCH_"
#: Variables holding a provider's secret (`credential_ref` `env:RETOUCH_SECRET_...`): read by
#: name when a provider is built (`secret_variable`), never part of Settings.
SECRET_PREFIX = "RETOUCH_SECRET_"  # noqa: S105 - a variable name prefix, not a secret

#: Variables owned by Powertools itself; listed here so the configuration table is complete.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME": "service name on every log line and metric",
    "POWERTOOLS_LOG_LEVEL": "log level (default INFO)",
    "POWERTOOLS_METRICS_NAMESPACE": "CloudWatch namespace of the EMF metrics",
    "POWERTOOLS_METRICS_DISABLED": "set to true to stop emitting metrics (local use)",
}

#: Keys the Tencent SCF runtime sets from the function's run role (the `cos` storage adapter
#: reads them through `get_tencent_cloud_keys`); listed so the configuration table is complete.
TENCENT_CLOUD_VARIABLES = {
    "TENCENTCLOUD_SECRETID": "SecretId of the SCF run role's temporary keys",
    "TENCENTCLOUD_SECRETKEY": "SecretKey of those keys (secret)",
    "TENCENTCLOUD_SESSIONTOKEN": "session token of those keys (secret)",
}


#: OpenCV reads its pixel cap from this variable once, when its library loads
#: (`limit_image_decoders`); listed so the configuration table is complete.
DECODER_VARIABLES = {
    "OPENCV_IO_MAX_IMAGE_PIXELS": f"OpenCV's own cap on a decoded image's pixels (default "
    f"{DECODER_MAX_PIXELS}, set by `retouch.images` before OpenCV loads unless already set)",
}


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


#: Temporary credentials of the function's execution role, which SCF puts in the environment
#: of every function (SCF "Environment Variables": built-in variables).
SCF_ROLE_VARIABLES = (
    "TENCENTCLOUD_SECRETID",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
)


@dataclass(frozen=True, slots=True)
class CloudCredentials:
    """A secret id, key and session token (temporary credentials)."""

    secret_id: str
    secret_key: SecretStr
    token: SecretStr


def scf_role_credentials() -> CloudCredentials | None:
    """The SCF execution role's credentials, or None outside SCF (then the Tencent SDK looks
    for credentials itself: TENCENTCLOUD_SECRET_ID/_KEY, its profile file, a CVM role)."""
    secret_id, secret_key, token = (os.environ.get(name, "") for name in SCF_ROLE_VARIABLES)
    if not (secret_id and secret_key):
        return None
    return CloudCredentials(secret_id, SecretStr(secret_key), SecretStr(token))


#: Variables the SCF runtime sets in every function: `TENCENTCLOUD_RUNENV` is `SCF` there,
#: `TENCENTCLOUD_REGION` the function's region (read by the metrics sink's defaults).
SCF_RUNTIME_VARIABLES = {
    "TENCENTCLOUD_RUNENV": "SCF inside a Tencent SCF function (selects the default metrics sink)",
    "TENCENTCLOUD_REGION": "the SCF function's region (the Cloud Monitor calls' default region)",
}


def running_on_scf() -> bool:
    """Whether this process is a Tencent SCF function (its runtime's own variables say so)."""
    return os.environ.get("TENCENTCLOUD_RUNENV") == "SCF" or "SCF_FUNCTIONNAME" in os.environ


def scf_region() -> str:
    """The SCF function's region, or "" outside SCF."""
    return os.environ.get("TENCENTCLOUD_REGION", "")


def secret_variable(name: str) -> str | None:
    """The value of `name`, a variable holding a provider's secret (`credential_ref`
    `env:RETOUCH_SECRET_...`, filled from a secret store by the deploy); None when unset or
    empty. Never cached, never logged."""
    if not name.startswith(SECRET_PREFIX):
        raise SettingsError(f"invalid secret variable {name}: must start with {SECRET_PREFIX}")
    return os.environ.get(name) or None


def _variable_of(error_location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(error_location[0]).upper() if error_location else ENV_PREFIX


def _environment() -> dict[str, str]:
    """`RETOUCH_*` variables keyed by field name, matched case-insensitively.

    Read here rather than through pydantic-settings, whose import (with python-dotenv and
    argparse) cost about 14 ms of every cold start for what these few lines do.
    """
    prefix, secrets = ENV_PREFIX.lower(), SECRET_PREFIX.lower()
    return {
        name[len(prefix) :].lower(): value
        for name, value in os.environ.items()
        if name.lower().startswith(prefix) and not name.lower().startswith(secrets)
    }


@cache
def get_settings() -> Settings:
    """Parse and validate the environment once; raise SettingsError naming the bad variable."""
    try:
        return Settings.model_validate(_environment())
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = {"missing": "missing", "extra_forbidden": "unknown"}.get(first["type"], "invalid")
        raise SettingsError(
            f"{kind} setting {_variable_of(first['loc'])}: {first['msg']}"
        ) from None


@dataclass(frozen=True, slots=True)
class TencentCloudKeys:
    """The keys the SCF runtime hands the function (its run role's temporary keys); the
    secret parts never appear in a repr or a log line."""

    secret_id: str
    secret_key: SecretStr
    session_token: SecretStr | None


def get_tencent_cloud_keys() -> TencentCloudKeys:
    """The SCF runtime's keys, read when a Tencent Cloud client is built (not cached: the
    clients that use them are). SettingsError names a missing variable."""
    values = {name: os.environ.get(name, "") for name in TENCENT_CLOUD_VARIABLES}
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY"):
        if not values[name]:
            raise SettingsError(f"missing setting {name}: required by the cos storage backend")
    token = values["TENCENTCLOUD_SESSIONTOKEN"]
    return TencentCloudKeys(
        secret_id=values["TENCENTCLOUD_SECRETID"],
        secret_key=SecretStr(values["TENCENTCLOUD_SECRETKEY"]),
        session_token=SecretStr(token) if token else None,
    )


def limit_image_decoders() -> None:
    """Set OpenCV's own pixel cap (`DECODER_MAX_PIXELS`) unless the deployment set one. OpenCV
    reads it when `cv2` is first imported, so this runs before: `retouch.images`, which every
    module that imports cv2 imports first, calls it when it is imported."""
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(DECODER_MAX_PIXELS))
