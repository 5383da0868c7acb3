"""The `s3` adapter through boto3, against moto's S3 and STS server on a loopback port."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from moto.sts.models import sts_backends

from retouch.storage import (
    InvalidStorageKey,
    ObjectNotFound,
    ObjectTooLarge,
    S3Storage,
    UploadTicket,
)
from retouch.storage.errors import StorageUnavailable
from scripts.local.servers import free_port

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/retouch-upload"
KEY = "uploads/usr_abc/upl_def"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def storage(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Storage]:
    """An adapter on a new, empty bucket; boto3 finds moto's keys in its default chain."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    boto3.client("s3", region_name=REGION, endpoint_url=moto_url).create_bucket(
        Bucket="retouch-uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield S3Storage(
        bucket="retouch-uploads",
        region=REGION,
        upload_role_arn=ROLE,
        endpoint_url=moto_url,
        sts_endpoint_url=moto_url,
    )


def signed_policy(ticket: UploadTicket) -> dict[str, object]:
    return json.loads(base64.b64decode(ticket.fields["policy"]))  # type: ignore[no-any-return]


def test_put_get_head_and_delete_round_trip(storage: S3Storage, moto_url: str) -> None:
    storage.put(KEY, PNG, "image/png")
    info = storage.head(KEY)

    assert storage.get(KEY) == PNG
    assert info is not None
    assert (info.key, info.size, info.content_type) == (KEY, len(PNG), "image/png")
    assert len(info.etag) == 32
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    stored = s3.head_object(Bucket=storage.bucket, Key=KEY)
    assert stored["ServerSideEncryption"] == "AES256"  # server-side encryption requested
    storage.delete(KEY)
    assert storage.head(KEY) is None
    with pytest.raises(ObjectNotFound):
        storage.get(KEY)
    storage.delete(KEY)  # deleting a missing object is no error


def test_presigned_download_reads_the_object(storage: S3Storage) -> None:
    storage.put(KEY, PNG, "image/png")

    url = storage.presign_download(KEY, expires_s=60)

    assert "X-Amz-Signature=" in url
    assert httpx.get(url).content == PNG


def test_presigned_post_uploads_the_file(storage: S3Storage) -> None:
    ticket = storage.presign_upload(KEY, content_type="image/png", max_bytes=1000, expires_s=60)

    response = httpx.post(
        ticket.url, data=dict(ticket.fields), files={"file": ("photo", PNG, "image/png")}
    )

    assert ticket.method == "POST"
    assert response.status_code == 204, response.text
    assert storage.get(KEY) == PNG
    info = storage.head(KEY)
    assert info is not None
    assert info.content_type == "image/png"


def test_post_policy_binds_the_key_the_type_and_the_size(storage: S3Storage) -> None:
    # moto stores a form that breaks its policy, so the policy itself is what is checked;
    # S3 enforces each condition (and the signature over the policy).
    ticket = storage.presign_upload(KEY, content_type="image/png", max_bytes=1000, expires_s=60)

    policy = signed_policy(ticket)
    conditions = policy["conditions"]

    assert {"key": KEY} in conditions  # type: ignore[operator]
    assert {"Content-Type": "image/png"} in conditions  # type: ignore[operator]
    assert {"bucket": "retouch-uploads"} in conditions  # type: ignore[operator]
    assert ["content-length-range", 1, 1000] in conditions  # type: ignore[operator]
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]  # type: ignore[attr-defined]
    assert ticket.fields["key"] == KEY
    assert ticket.fields["Content-Type"] == "image/png"
    assert ticket.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "x-amz-signature" in ticket.fields


def test_temporary_credentials_assume_the_upload_role_limited_to_one_key(
    storage: S3Storage,
) -> None:
    credentials = storage.temporary_credentials(KEY, expires_s=900)

    (assumed,) = sts_backends[ACCOUNT]["aws"].assumed_roles
    policy = json.loads(str(assumed.policy))
    (statement,) = policy["Statement"]
    assert assumed.role_arn == ROLE
    assert assumed.session_name == "upload-uploads-usr_abc-upl_def"
    assert statement["Effect"] == "Allow"
    # One object, no wildcard: neither a sibling key nor another user's can be written.
    assert statement["Resource"] == f"arn:aws:s3:::retouch-uploads/{KEY}"
    assert set(statement["Action"]) == {
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert credentials.access_key_id == assumed.access_key_id
    assert credentials.session_token
    assert credentials.key == KEY
    assert (credentials.bucket, credentials.region) == ("retouch-uploads", REGION)
    assert credentials.expires_at.tzinfo is not None


def test_an_invalid_key_or_prefix_is_refused_before_any_request(storage: S3Storage) -> None:
    with pytest.raises(InvalidStorageKey):
        storage.put("uploads/../etc", b"x", "image/png")
    with pytest.raises(InvalidStorageKey):
        storage.presign_download("outputs", expires_s=60)
    with pytest.raises(InvalidStorageKey):
        storage.temporary_credentials("uploads/usr_abc/", expires_s=900)
    assert sts_backends[ACCOUNT]["aws"].assumed_roles == []


def test_an_unreachable_sts_is_storage_unavailable(storage: S3Storage) -> None:
    unreachable = S3Storage(
        bucket=storage.bucket,
        region=REGION,
        upload_role_arn=ROLE,
        endpoint_url=storage.endpoint_url,
        sts_endpoint_url=f"http://127.0.0.1:{free_port()}",
    )

    with pytest.raises(StorageUnavailable) as refused:
        unreachable.temporary_credentials(KEY, expires_s=900)

    assert refused.value.error_code.status == 503


def test_a_bounded_read_refuses_an_object_longer_than_its_bound(storage: S3Storage) -> None:
    storage.put(KEY, PNG, "image/png")

    assert storage.get(KEY, max_bytes=len(PNG)) == PNG
    with pytest.raises(ObjectTooLarge):
        storage.get(KEY, max_bytes=len(PNG) - 1)
