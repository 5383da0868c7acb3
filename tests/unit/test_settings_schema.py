"""Settings validated by the validator `core/settings/compiled.py` writes from the groups'
declarations: every value and every error is what a pydantic model of the same groups gives
(the model `Settings` was before), and a group added the existing way takes part."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from retouch.core.settings import Settings, SettingsError, get_settings
from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.compiled import CompiledSettings

REQUIRED = {
    "db_host": "127.0.0.1",
    "db_user": "retouch",
    "db_name": "retouch",
    "redis_url": "redis://127.0.0.1:6379/0",
}
KEY = "0123456789abcdef0123456789abcdef"
#: Raw values tried in every field: numbers in and out of each kind of bound, words of the
#: Literals, URLs, references, regions, JSON, and what no field accepts.
PROBES = (
    *("", " ", "0", "1", "-1", "5", "61", "3600", "100000", "1.5", "1e3", "nan", "inf"),
    *("true", "off", "abc", "local", "prod", "s3", "cos", "sqs", "cmq", "scf", "starttls"),
    *("en", "emf", "https://a.example.com", "http://127.0.0.1:9", "https://a.example.com/"),
    *("redis://h:1/0", "rediss://user:pw@h:1/0", "tcssm:retouch-db", "tcssm:db@v1"),
    *("secretsmanager:retouch/db", "ssm:/retouch/db", "env:RETOUCH_SECRET_X", "ap-guangzhou"),
    *('["https://a.example.com"]', '["https://A.example.com/"]', f'{{"k1": "{KEY}"}}'),
    *('{"k1": "short"}', f'{{"k1": "{KEY}", "k2": "{KEY}"}}', "{", "x" * 300, "bucket-1250000000"),
)
#: Variables whose validators read another field: pairs that pass or fail together.
COMBINATIONS = (
    {"stage": "prod"},
    {"stage": "prod", "jwt_keys_secret": "tcssm:keys", "secrets_tencent_region": "ap-beijing"},
    {"jwt_keys": f'{{"k1": "{KEY}", "k2": "{KEY}"}}', "jwt_active_kid": "k3"},
    {"jwt_keys": f'{{"k1": "{KEY}", "k2": "{KEY}"}}', "jwt_active_kid": "k2"},
    {"jwt_keys": f'{{"k1": "{KEY}"}}', "jwt_keys_secret": "tcssm:keys"},
    {"db_password": "pw", "db_password_secret": "ssm:/db"},
    {"db_password_secret": "tcssm:db"},
    {"redis_url": "redis://:pw@h:1/0", "redis_auth_secret": "ssm:/redis"},
    {"queue_backend": "cmq"},
    {"queue_backend": "scf", "queue_scf_region": "ap-guangzhou"},
    {"storage_backend": "s3", "storage_bucket": "Bad_Bucket", "storage_region": "eu-west-1"},
    {"storage_backend": "cos", "storage_bucket": "bucket-1250000000"},
    {"storage_backend": "s3", "storage_bucket": "bucket", "storage_region": "eu-west-1"},
    {"db_port": "0", "queue_poll_interval_s": "0", "db_prot": "1", "zz": "2"},
    {"db_host": ""},
)


class Reference(*Settings.__bases__[:-1], BaseModel):  # type: ignore[misc]
    """The same groups composed into one pydantic model, as `Settings` was."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Settings")


def _plain(value: Any) -> Any:
    """Values to compare: a secret by its length (unset keys are random, 43 characters)."""
    if isinstance(value, SecretStr):
        return ("secret", len(value.get_secret_value()))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _outcome(validate: Any, values: Mapping[str, Any]) -> Any:
    try:
        settings = validate(values)
    except ValidationError as exc:
        errors = [
            {**error, "ctx": {key: repr(item) for key, item in error.get("ctx", {}).items()}}
            for error in exc.errors(include_url=False)
        ]
        return ("refused", exc.title, errors)
    return ("accepted", {name: _plain(getattr(settings, name)) for name in Settings.model_fields})


def _inputs() -> Iterator[dict[str, Any]]:
    for name in Settings.model_fields:
        for probe in PROBES:
            yield {**REQUIRED, name: probe}
    for combination in COMBINATIONS:
        yield {**REQUIRED, **combination}


def test_every_field_validates_every_probe_as_a_pydantic_model_does() -> None:
    compared = 0
    for values in _inputs():
        ours = _outcome(Settings.model_validate, values)
        assert ours == _outcome(Reference.model_validate, values), values
        compared += 1

    assert compared > 6000


def test_the_compiled_validator_knows_every_field_in_declaration_order() -> None:
    assert list(Settings.model_fields) == list(Reference.model_fields)
    assert Settings.model_fields["upload_max_bytes"].default == 20 * 1024 * 1024


def test_the_first_bad_variable_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_ALERTS_CLAIM_S", "5")
    monkeypatch.setenv("RETOUCH_DB_PROT", "1")

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_ALERTS_CLAIM_S: "):
        get_settings()


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
        validate(knob_level="0", db_port="0", knob_levle="1")
    locations = [error["loc"] for error in refused.value.errors()]
    assert locations == [("db_port",), ("knob_level",), ("knob_levle",)]
    assert "knob_level" not in Settings.model_fields


def test_a_field_of_a_type_the_compiler_does_not_know_is_refused_at_once() -> None:
    class OddSettings(SettingsGroup):
        odd_when: complex = Field(1j, description="no settings field is complex")

    class Odd(OddSettings, CompiledSettings):
        """Settings of the odd group alone."""

    with pytest.raises(TypeError, match="not supported"):
        Odd.model_validate({})
