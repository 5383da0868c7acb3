"""Choosing the storage adapter from settings, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.settings import SettingsError, get_settings
from retouch.storage import CosStorage, LocalStorage, S3Storage, get_storage

COS_ENV = {
    "RETOUCH_STORAGE_BACKEND": "cos",
    "RETOUCH_STORAGE_BUCKET": "retouch-1250000000",
    "RETOUCH_STORAGE_REGION": "ap-guangzhou",
    "TENCENTCLOUD_SECRETID": "AKIDruntime",
    "TENCENTCLOUD_SECRETKEY": "runtime-secret-key",
    "TENCENTCLOUD_SESSIONTOKEN": "runtime-session-token",
}
S3_ENV = {
    "RETOUCH_STORAGE_BACKEND": "s3",
    "RETOUCH_STORAGE_BUCKET": "retouch-uploads",
    "RETOUCH_STORAGE_REGION": "eu-west-1",
    "RETOUCH_STORAGE_UPLOAD_ROLE_ARN": "arn:aws:iam::123456789012:role/retouch-upload",
}


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_local_is_the_default_backend() -> None:
    assert isinstance(get_storage(), LocalStorage)


def test_cos_backend_builds_the_cos_adapter_with_the_runtime_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, COS_ENV)

    storage = get_storage()

    assert isinstance(storage, CosStorage)
    assert (storage.bucket, storage.region, storage.appid) == (
        "retouch-1250000000",
        "ap-guangzhou",
        "1250000000",
    )
    assert storage.keys.secret_id == "AKIDruntime"
    assert "runtime-secret-key" not in repr(storage.keys)
    assert "runtime-session-token" not in repr(storage.keys)


def test_s3_backend_builds_the_s3_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, S3_ENV)

    storage = get_storage()

    assert isinstance(storage, S3Storage)
    assert storage.upload_role_arn == S3_ENV["RETOUCH_STORAGE_UPLOAD_ROLE_ARN"]


def test_the_adapter_is_cached_until_clients_are_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_storage()
    set_env(monkeypatch, S3_ENV)

    assert get_storage() is first
    reset_clients()
    assert isinstance(get_storage(), S3Storage)


def test_an_unknown_backend_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_STORAGE_BACKEND", "gcs")

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_STORAGE_BACKEND: "):
        get_storage()


@pytest.mark.parametrize(
    ("backend", "missing"),
    [
        ("cos", "RETOUCH_STORAGE_BUCKET"),
        ("cos", "RETOUCH_STORAGE_REGION"),
        ("s3", "RETOUCH_STORAGE_BUCKET"),
        ("s3", "RETOUCH_STORAGE_REGION"),
        ("s3", "RETOUCH_STORAGE_UPLOAD_ROLE_ARN"),
    ],
)
def test_a_cloud_backend_without_its_settings_names_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, backend: str, missing: str
) -> None:
    set_env(monkeypatch, COS_ENV if backend == "cos" else S3_ENV)
    monkeypatch.delenv(missing)

    with pytest.raises(SettingsError, match=rf"^missing setting {missing}: required by the"):
        get_settings()


def test_a_cos_bucket_without_its_appid_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**COS_ENV, "RETOUCH_STORAGE_BUCKET": "retouch"})

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_STORAGE_BUCKET: "):
        get_settings()


def test_cos_without_the_runtime_keys_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, COS_ENV)
    monkeypatch.delenv("TENCENTCLOUD_SECRETKEY")

    with pytest.raises(SettingsError, match=r"^missing setting TENCENTCLOUD_SECRETKEY: "):
        get_storage()


def test_importing_storage_and_building_an_adapter_loads_no_cloud_sdk() -> None:
    code = (
        "import sys, retouch.storage\n"
        "from retouch.storage import CosStorage, S3Storage\n"
        "from retouch.core.settings import TencentCloudKeys\n"
        "from pydantic import SecretStr\n"
        "keys = TencentCloudKeys(secret_id='a', secret_key=SecretStr('b'), session_token=None)\n"
        "cos = CosStorage(bucket='b-1250000000', region='ap-guangzhou', keys=keys)\n"
        "cos.presign_upload('uploads/u/x', content_type='image/png', max_bytes=1, expires_s=1)\n"
        "S3Storage(bucket='bucket', region='eu-west-1', upload_role_arn='r')\n"
        "loaded = {m.split('.')[0] for m in sys.modules} & "
        "{'boto3', 'botocore', 'qcloud_cos', 'tencentcloud'}\n"
        "sys.exit(str(sorted(loaded)) if loaded else 0)"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code],
        env={"PYTHONPATH": "layers/retouch"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
