"""Settings validated group by group (`core/settings/lazy.py`): a group that can fail is
validated with the settings, any other the first time one of its fields is read, and a group
added the existing way (a base of `Settings`) takes part like the others."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import Field, ValidationError

from retouch.core.settings import Settings, SettingsError, get_settings
from retouch.core.settings.alerts import AlertSettings
from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.redis_auth import RedisAuthSettings
from retouch.core.settings.service import ServiceSettings

REQUIRED = {
    "db_host": "127.0.0.1",
    "db_user": "retouch",
    "db_name": "retouch",
    "redis_url": "redis://127.0.0.1:6379/0",
}


def test_only_the_groups_that_can_fail_are_validated_with_the_settings() -> None:
    settings = Settings.model_validate(REQUIRED)

    # The service group has required fields; Redis auth reads the service's (set) URL.
    assert settings._validated == {ServiceSettings, RedisAuthSettings}
    assert "alerts_claim_s" not in settings.__dict__


def test_a_group_is_validated_when_one_of_its_fields_is_first_read() -> None:
    settings = Settings.model_validate(REQUIRED)

    assert settings.alerts_claim_s == Settings.model_fields["alerts_claim_s"].default
    assert AlertSettings in settings._validated
    assert "alerts_claim_s" in settings.__dict__  # later reads: a plain attribute


@pytest.mark.parametrize("stage", ["local", "prod"])
def test_every_group_left_to_its_defaults_validates(stage: str) -> None:
    keys = '{"k1": "0123456789abcdef0123456789abcdef"}'
    settings = Settings.model_validate({**REQUIRED, "stage": stage, "jwt_keys": keys})

    values = {name: getattr(settings, name) for name in Settings.model_fields}

    assert values["stage"] == stage
    assert settings._validated == set(Settings._groups)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RETOUCH_ALERTS_CLAIM_S", "0"),
        ("RETOUCH_BACKUP_PART_ROWS", "0"),
        ("RETOUCH_CALLER_CACHE_TTL_S", "61"),
        ("RETOUCH_DB_SLOW_MS", "-5"),
        ("RETOUCH_UNVERIFIED_TTL_DAYS", "nope"),
    ],
)
def test_a_bad_variable_of_a_group_nothing_read_yet_fails_the_first_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError, match=rf"^invalid setting {variable}: "):
        get_settings()


def test_a_bad_value_is_reported_before_an_unknown_name() -> None:
    values = {**REQUIRED, "db_prot": "3307", "backup_part_rows": "0"}

    with pytest.raises(ValidationError) as refused:
        Settings.model_validate(values)

    assert [error["loc"] for error in refused.value.errors()] == [("backup_part_rows",)]


def test_a_secret_reference_of_the_service_group_needs_the_pipeline_groups_region() -> None:
    values = {**REQUIRED, "db_password_secret": "tcssm:retouch-db"}

    with pytest.raises(ValidationError) as refused:
        Settings.model_validate(values)

    assert refused.value.errors()[0]["loc"] == ("secrets_tencent_region",)


def test_threads_first_reading_a_group_see_one_random_default_key() -> None:
    settings = Settings.model_validate(REQUIRED)
    start, keys = threading.Barrier(8), []

    def read() -> None:
        start.wait()
        keys.append(settings.storage_local_signing_key.get_secret_value())

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 8
    assert len(set(keys)) == 1


def test_a_copy_keeps_every_value_but_the_updated_ones() -> None:
    settings = Settings.model_validate({**REQUIRED, "db_port": "3307"})

    copy = settings.model_copy(update={"backup_part_rows": 7})

    assert (copy.backup_part_rows, copy.db_port) == (7, 3307)
    assert copy.storage_local_signing_key is settings.storage_local_signing_key
    assert settings.backup_part_rows != 7


def test_settings_are_frozen() -> None:
    settings = Settings.model_validate(REQUIRED)

    with pytest.raises(AttributeError, match="frozen"):
        settings.db_port = 1


class KnobSettings(SettingsGroup):
    """A group added the way the others were: a base of the composed settings."""

    knob_level: int = Field(3, ge=1, le=9, description="a level")


class Composed(KnobSettings, Settings):
    """Settings with one more group, listed first: validated last."""


def test_a_group_added_as_a_base_is_validated_read_and_refused_like_the_others() -> None:
    def validate(**values: Any) -> Composed:
        return Composed.model_validate({**REQUIRED, **values})

    assert validate().knob_level == 3
    assert validate(knob_level="7").knob_level == 7
    with pytest.raises(ValidationError) as refused:
        validate(knob_level="0", knob_levle="1")
    assert [error["loc"] for error in refused.value.errors()] == [("knob_level",)]
    with pytest.raises(ValidationError, match="knob_levle"):
        validate(knob_levle="1")
    assert "knob_level" not in Settings.model_fields
