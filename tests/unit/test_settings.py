"""Settings: parsed once from the environment, errors name the variable."""

from __future__ import annotations

import pytest

from retouch.core.settings import SettingsError, get_settings

REQUIRED = {
    "RETOUCH_DB_HOST": "127.0.0.1",
    "RETOUCH_DB_USER": "retouch",
    "RETOUCH_DB_NAME": "retouch",
    "RETOUCH_REDIS_URL": "redis://127.0.0.1:6379/0",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_reads_typed_values_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("RETOUCH_DB_PORT", "3307")
    environment.setenv("RETOUCH_MAX_BODY_BYTES", "2048")

    settings = get_settings()

    assert settings.db_port == 3307
    assert settings.max_body_bytes == 2048
    assert settings.db_host == "127.0.0.1"


def test_invalid_value_names_the_variable(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("RETOUCH_DB_PORT", "not-a-port")

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_DB_PORT: "):
        get_settings()


def test_missing_value_names_the_variable(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("RETOUCH_REDIS_URL")

    with pytest.raises(SettingsError, match=r"^missing setting RETOUCH_REDIS_URL: "):
        get_settings()


def test_unknown_variable_with_our_prefix_is_refused_by_name(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("RETOUCH_DB_PROT", "3307")

    with pytest.raises(SettingsError, match=r"^unknown setting RETOUCH_DB_PROT: "):
        get_settings()


def test_password_never_appears_in_the_settings_repr(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("RETOUCH_DB_PASSWORD", "hunter2-very-secret")

    assert "hunter2-very-secret" not in repr(get_settings())


def test_settings_are_parsed_once_and_cached(environment: pytest.MonkeyPatch) -> None:
    first = get_settings()
    environment.setenv("RETOUCH_DB_PORT", "3399")

    assert get_settings() is first


@pytest.mark.parametrize(
    ("bad", "reported"),
    [
        (
            {"RETOUCH_QUEUE_POLL_INTERVAL_S": "0", "RETOUCH_DB_PORT": "0"},
            "RETOUCH_DB_PORT",
        ),
        (
            {"RETOUCH_QUEUE_POLL_INTERVAL_S": "0", "RETOUCH_UPLOAD_MAX_BYTES": "0"},
            "RETOUCH_UPLOAD_MAX_BYTES",
        ),
    ],
)
def test_of_several_bad_variables_the_first_declared_is_reported(
    environment: pytest.MonkeyPatch, bad: dict[str, str], reported: str
) -> None:
    for name, value in bad.items():
        environment.setenv(name, value)

    with pytest.raises(SettingsError, match=rf"^invalid setting {reported}: "):
        get_settings()


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    from retouch.core.settings import (
        DECODER_VARIABLES,
        ENV_PREFIX,
        POWERTOOLS_VARIABLES,
        TENCENT_CLOUD_VARIABLES,
        Settings,
    )

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    documented = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    expected = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert (
        expected | set(POWERTOOLS_VARIABLES) | set(TENCENT_CLOUD_VARIABLES) | set(DECODER_VARIABLES)
        <= documented
    )
