"""Object storage (local files, Tencent COS, AWS S3) and upload settings."""

from __future__ import annotations

import re
import secrets
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from retouch.core.settings.base import SettingsGroup

_COS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{0,49}-[0-9]{5,20}")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: OpenCV's own cap on the pixels of an image it decodes (its default is 2**30, 3 GB of BGR):
#: a backstop behind the header check, for an image whose header our parser and OpenCV's read
#: differently. 2**26 pixels are 192 MiB of BGR. No configured cap may exceed it.
DECODER_MAX_PIXELS = 2**26


class StorageSettings(SettingsGroup):
    """Storage adapters and uploads (`storage_backend` comes before the bucket, region and
    role fields, whose validators read it)."""

    # Storage (retouch.storage), local adapter: see docs/architecture.md "Storage".
    storage_local_root: str = Field(
        ".local/objects", min_length=1, description="folder holding the local adapter's objects"
    )
    storage_local_base_url: str = Field(
        "http://127.0.0.1:8000/_storage",
        pattern=r"^https?://",
        description="URL at which the local gateway serves the local objects",
    )
    storage_local_signing_key: SecretStr = Field(
        SecretStr(""),
        validate_default=True,
        description="HMAC key (32+ bytes) of the local adapter's URLs and credentials",
    )

    @field_validator("storage_local_signing_key")
    @classmethod
    def _check_storage_signing_key(cls, key: SecretStr) -> SecretStr:
        if not key.get_secret_value():
            # Unset: a random key living as long as the process, as for the JWT keys.
            return SecretStr(secrets.token_urlsafe(32))
        if len(key.get_secret_value().encode()) < 32:
            raise ValueError("the key is shorter than 32 bytes")
        return key

    # Storage, cloud adapters (`cos`, `s3`): see docs/architecture.md "Storage".
    storage_backend: Literal["local", "cos", "s3"] = Field(
        "local", description="object storage adapter: local files, Tencent COS or AWS S3"
    )
    storage_bucket: str = Field(
        "",
        validate_default=True,
        description="bucket of the cos or s3 backend (COS: <name>-<appid>)",
    )
    storage_region: str = Field(
        "",
        validate_default=True,
        pattern=r"^([a-z]{2,}(-[a-z0-9]+)+)?$",
        description="region of the bucket (ap-guangzhou, eu-west-1)",
    )
    storage_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+/?$",
        description="object store URL instead of the region's (S3-compatible stores, COS custom "
        "domains, tests)",
    )
    storage_sts_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+/?$",
        description="STS URL instead of the region's (tests)",
    )
    storage_upload_role_arn: str = Field(
        "",
        validate_default=True,
        description="role assumed for upload credentials; required for s3, optional for cos",
    )

    @field_validator("storage_bucket")
    @classmethod
    def _check_storage_bucket(cls, bucket: str, info: ValidationInfo) -> str:
        backend = info.data.get("storage_backend")
        if backend in ("cos", "s3") and not bucket:
            raise PydanticCustomError("missing", f"required by the {backend} storage backend")
        if backend == "cos" and not _COS_BUCKET.fullmatch(bucket):
            raise ValueError("a COS bucket is named <name>-<appid>")
        if backend == "s3" and not _S3_BUCKET.fullmatch(bucket):
            raise ValueError("not a valid S3 bucket name")
        return bucket

    @field_validator("storage_region")
    @classmethod
    def _check_storage_region(cls, region: str, info: ValidationInfo) -> str:
        backend = info.data.get("storage_backend")
        if backend in ("cos", "s3") and not region:
            raise PydanticCustomError("missing", f"required by the {backend} storage backend")
        return region

    @field_validator("storage_upload_role_arn")
    @classmethod
    def _check_storage_upload_role(cls, role_arn: str, info: ValidationInfo) -> str:
        if info.data.get("storage_backend") == "s3" and not role_arn:
            raise PydanticCustomError("missing", "required by the s3 storage backend")
        return role_arn

    # Uploads (retouch.uploads): see docs/architecture.md "Uploads".
    upload_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1, le=1024**3, description="largest upload accepted, in bytes"
    )
    upload_max_pixels: int = Field(
        50_000_000,
        ge=1,
        le=DECODER_MAX_PIXELS,
        description="largest width x height an image (an upload, a vendor's result) may "
        "declare in its header; every decode checks it first",
    )
    upload_url_expires_s: int = Field(
        900, ge=60, le=43_200, description="lifetime of presigned upload URLs and credentials"
    )
