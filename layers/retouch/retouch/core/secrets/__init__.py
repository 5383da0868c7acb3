"""Secrets read at run time from the platform's secret store, cached.

A reference names a secret and its store: `tcssm:<name>[@<version>]` (Tencent Cloud Secrets
Manager, SSM), `secretsmanager:<name or ARN>` (AWS Secrets Manager), `ssm:/<path>` (an AWS SSM
SecureString, decrypted) or `env:RETOUCH_SECRET_<NAME>` (a variable: the local stack).
`get_secret(reference)` reads it on first use, never at import, and keeps the value for
`RETOUCH_SECRETS_CACHE_S`; `refresh_secret` reads it again early (a refused password, an
unknown key id), at most once per `RETOUCH_SECRETS_REFRESH_MIN_S`. A secret that cannot be
read raises `SecretUnavailable`, a 503 whose body names nothing; the log line names the
reference and the store's error code, never the value.

`own` resolves the service's own secrets (the MySQL password, the JWT keys) from the settings
or through these references.
"""

from __future__ import annotations

from retouch.core.secrets.cache import (
    SecretUnavailable,
    forget_secrets,
    get_secret,
    refresh_secret,
)

__all__ = ["SecretUnavailable", "forget_secrets", "get_secret", "refresh_secret"]
