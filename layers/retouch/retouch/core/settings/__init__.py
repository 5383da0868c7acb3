"""Every setting the backend reads, parsed once from environment variables.

This package is the only place that knows environment variable names: the settings groups
(`service`, `storage`, `pipeline`, ...) declare the `RETOUCH_*` fields, composed into the one
flat `Settings` (`model`, validated by one validator compiled from the groups: `compiled`),
and `environment` reads the variables. Nothing is read at import time: `get_settings()` parses
and validates on first use and caches the result, so a bad value fails the first caller with
one line naming the variable.
"""

from __future__ import annotations

from retouch.core.settings.environment import (
    DECODER_VARIABLES,
    ENV_PREFIX,
    POWERTOOLS_VARIABLES,
    SCF_ROLE_VARIABLES,
    SCF_RUNTIME_VARIABLES,
    SECRET_PREFIX,
    TENCENT_CLOUD_VARIABLES,
    CloudCredentials,
    SettingsError,
    TencentCloudKeys,
    get_settings,
    get_tencent_cloud_keys,
    limit_image_decoders,
    running_on_scf,
    scf_region,
    scf_role_credentials,
    secret_variable,
)
from retouch.core.settings.model import Settings

__all__ = [
    "DECODER_VARIABLES",
    "ENV_PREFIX",
    "POWERTOOLS_VARIABLES",
    "SCF_ROLE_VARIABLES",
    "SCF_RUNTIME_VARIABLES",
    "SECRET_PREFIX",
    "TENCENT_CLOUD_VARIABLES",
    "CloudCredentials",
    "Settings",
    "SettingsError",
    "TencentCloudKeys",
    "get_settings",
    "get_tencent_cloud_keys",
    "limit_image_decoders",
    "running_on_scf",
    "scf_region",
    "scf_role_credentials",
    "secret_variable",
]
