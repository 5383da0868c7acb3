"""`get_secret` against a loopback Tencent SSM (signatures and fields checked): read, cached,
read again after its time, pinned versions, and refusals that never become a 500."""

from __future__ import annotations

import logging
import secrets
import time

import pytest

from retouch.core.secrets import SecretUnavailable, get_secret, refresh_secret
from retouch.core.settings import get_settings
from retouch.providers.credentials import CredentialsUnavailable, resolve_credentials
from tests.conftest import LogLines
from tests.integration.secrets.secrets_support import REGION, ROLE_TOKEN
from tests.integration.tencent_ssm_fake import CURRENT, FakeSsm


def _name() -> str:
    return f"retouch-test-{secrets.token_hex(4)}"


def test_a_secret_is_read_with_a_signed_request_naming_it(tencent_ssm: FakeSsm) -> None:
    name, value = _name(), secrets.token_urlsafe(24)
    tencent_ssm.put(name, value)

    assert get_secret(f"tcssm:{name}") == value

    (call,) = tencent_ssm.calls
    assert (call.secret_name, call.version_id, call.region) == (name, CURRENT, REGION)
    assert call.token == ROLE_TOKEN  # signed with the SCF role's temporary keys
    assert tencent_ssm.refused == []


def test_reads_within_the_cache_time_cost_one_call(tencent_ssm: FakeSsm) -> None:
    name = _name()
    tencent_ssm.put(name, "value-1")

    values = {get_secret(f"tcssm:{name}") for _ in range(20)}

    assert values == {"value-1"}
    assert tencent_ssm.reads(name) == 1


def test_a_rotated_secret_is_read_again_once_its_cache_time_passed(
    tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_SECRETS_CACHE_S", "0.5")
    get_settings.cache_clear()
    name = _name()
    tencent_ssm.put(name, "before")

    first = get_secret(f"tcssm:{name}")
    tencent_ssm.put(name, "after")
    cached = get_secret(f"tcssm:{name}")
    time.sleep(0.6)
    later = get_secret(f"tcssm:{name}")

    assert (first, cached, later) == ("before", "before", "after")
    assert tencent_ssm.reads(name) == 2


def test_an_early_refresh_reads_at_most_once_per_interval(tencent_ssm: FakeSsm) -> None:
    # GIVEN a cached secret and the default 30 s between early refreshes
    name = _name()
    tencent_ssm.put(name, "value")
    get_secret(f"tcssm:{name}")

    # WHEN something asks for a refresh again and again (forged kids, a wrong password)
    for _ in range(10):
        refresh_secret(f"tcssm:{name}")

    # THEN the store was not asked again
    assert tencent_ssm.reads(name) == 1


def test_a_pinned_version_is_asked_for_by_its_id(tencent_ssm: FakeSsm) -> None:
    name = _name()
    tencent_ssm.put(name, "old", version="v1")
    tencent_ssm.put(name, "new", version="v2")

    assert get_secret(f"tcssm:{name}@v1") == "old"
    assert get_secret(f"tcssm:{name}") == "new"
    assert [call.version_id for call in tencent_ssm.calls] == ["v1", CURRENT]


def test_a_missing_secret_is_unavailable_and_logged_by_reference(
    tencent_ssm: FakeSsm, log_lines: LogLines
) -> None:
    reference = f"tcssm:{_name()}"

    with pytest.raises(SecretUnavailable) as caught:
        get_secret(reference)

    assert caught.value.reason == "ResourceNotFound"
    assert caught.value.code == "SERVICE_UNAVAILABLE"  # a 503 wherever it surfaces
    (line,) = log_lines.with_message("secret unavailable")
    assert (line["reference"], line["reason"]) == (reference, "ResourceNotFound")


def test_a_request_signed_with_other_keys_is_refused(
    tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _name()
    tencent_ssm.put(name, "value")
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-role-key")

    with pytest.raises(SecretUnavailable, match="AuthFailure"):
        get_secret(f"tcssm:{name}")

    assert tencent_ssm.refused == ["signature mismatch"]
    assert tencent_ssm.calls == []


def test_without_the_role_keys_nothing_is_sent(
    tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRETID")

    with pytest.raises(SecretUnavailable, match="no SCF role credentials"):
        get_secret(f"tcssm:{_name()}")

    assert (tencent_ssm.calls, tencent_ssm.refused) == ([], [])


def test_a_fetched_value_never_reaches_any_log(
    tencent_ssm: FakeSsm, log_lines: LogLines, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN every logger at DEBUG (the SDK's and urllib3's included)
    caplog.set_level(logging.DEBUG)
    name, value = _name(), secrets.token_urlsafe(24)
    tencent_ssm.put(name, value)

    # WHEN the secret is read, refreshed and a missing one is asked for
    get_secret(f"tcssm:{name}")
    refresh_secret(f"tcssm:{name}")
    with pytest.raises(SecretUnavailable):
        get_secret(f"tcssm:{name}-absent")

    # THEN no line carries the value
    assert log_lines.all()
    assert value not in caplog.text
    assert all(value not in str(line) for line in log_lines.all())


def test_a_failed_read_is_held_for_a_moment_then_tried_again(tencent_ssm: FakeSsm) -> None:
    # GIVEN a secret not created yet, asked for by many requests at once
    name = _name()
    for _ in range(10):
        with pytest.raises(SecretUnavailable, match="ResourceNotFound"):
            get_secret(f"tcssm:{name}")
    assert tencent_ssm.reads(name) == 1

    # WHEN it is created, THEN it is read a second after the failure
    tencent_ssm.put(name, "created")
    time.sleep(1.05)
    assert get_secret(f"tcssm:{name}") == "created"


def test_a_provider_reads_its_own_tencent_secret(tencent_ssm: FakeSsm) -> None:
    key = f"tc_{secrets.token_hex(3)}"
    tencent_ssm.put(f"retouch-providers-{key}", '{"secret_id": "AKIDvendor", "secret_key": "k"}')

    credentials = resolve_credentials(f"tcssm:retouch-providers-{key}", provider_key=key)

    assert credentials["secret_id"] == "AKIDvendor"


@pytest.mark.parametrize(
    "reference",
    [
        "tcssm:retouch-providers-hunyuan",  # another provider's
        "tcssm:retouch-dev-db-password",  # ours
        "tcssm:retouch-providers-tencent@v1",  # its own, but an old version
        "tcssm:retouch-providers-tencentx",
    ],
)
def test_a_provider_naming_another_tencent_secret_reads_nothing(
    tencent_ssm: FakeSsm, reference: str
) -> None:
    tencent_ssm.put(reference.split(":")[1].split("@")[0], "someone-else's-key")

    with pytest.raises(CredentialsUnavailable, match="not provider 'tencent'"):
        resolve_credentials(reference, provider_key="tencent")

    assert tencent_ssm.calls == []


def test_a_variable_holding_the_providers_reference_is_read_through(
    tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the SCF deploy's shape: the seed's `env:` reference, the variable holding a
    # reference to the provider's own secret in SSM
    key = f"tc_{secrets.token_hex(3)}"
    tencent_ssm.put(f"retouch-providers-{key}", '{"secret_id": "AKIDvendor", "secret_key": "k"}')
    monkeypatch.setenv(f"RETOUCH_SECRET_{key.upper()}", f"tcssm:retouch-providers-{key}")

    credentials = resolve_credentials(f"env:RETOUCH_SECRET_{key.upper()}", provider_key=key)

    assert credentials["secret_id"] == "AKIDvendor"
    assert len(tencent_ssm.calls) == 1


@pytest.mark.parametrize(
    "held", ["tcssm:retouch-providers-hunyuan", "tcssm:retouch-dev-db-password"]
)
def test_a_variable_holding_another_secrets_reference_reads_nothing(
    tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    tencent_ssm.put(held.split(":")[1], "someone-else's-key")
    monkeypatch.setenv("RETOUCH_SECRET_TENCENT", held)

    with pytest.raises(CredentialsUnavailable, match="not provider 'tencent'"):
        resolve_credentials("env:RETOUCH_SECRET_TENCENT", provider_key="tencent")

    assert tencent_ssm.calls == []
