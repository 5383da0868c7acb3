"""Resolve-time defence: a provider row naming a secret that is not its own (written before
the admin API's rule, or by hand) reads nothing, whatever the store."""

from __future__ import annotations

import pytest

from retouch.providers.credentials import (
    CredentialsUnavailable,
    own_references,
    resolve_credentials,
)


def test_a_provider_owns_one_reference_per_store() -> None:
    assert own_references("tencent") == (
        "secretsmanager:retouch/providers/tencent",
        "ssm:/retouch/providers/tencent",
        "env:RETOUCH_SECRET_TENCENT",
        "tcssm:retouch-providers-tencent",
    )


@pytest.mark.parametrize(
    "reference",
    [
        "secretsmanager:retouch/jwt-keys",
        "secretsmanager:retouch/providers/hunyuan",
        "ssm:/retouch/db-password",
        "env:RETOUCH_SECRET_HUNYUAN",
        "secretsmanager:retouch/tencentcloud",
        "tcssm:retouch-providers-hunyuan",
        "tcssm:retouch-dev-db-password",
        "tcssm:retouch-providers-tencent@v1",
        "tcssm:retouch-providers-tencent-evil",
    ],
)
def test_a_foreign_reference_is_refused_before_any_store_is_read(
    reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the foreign secret is really there (the environment case); AWS reads would need a
    # socket, which unit tests do not have
    monkeypatch.setenv("RETOUCH_SECRET_HUNYUAN", "hunyuan-key")

    with pytest.raises(CredentialsUnavailable, match="not provider 'tencent'"):
        resolve_credentials(reference, provider_key="tencent")


def test_the_providers_own_environment_secret_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_SECRET_TENCENT", '{"secret_id": "AKID1", "secret_key": "k"}')

    credentials = resolve_credentials("env:RETOUCH_SECRET_TENCENT", provider_key="tencent")

    assert credentials["secret_id"] == "AKID1"
