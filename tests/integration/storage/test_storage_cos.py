"""The `cos` adapter through cos-python-sdk-v5 and tencentcloud-sdk-python, against loopback
fakes of COS and the Tencent Cloud STS API that check signatures and signed policies."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest
from pydantic import SecretStr

from retouch.core.settings import TencentCloudKeys
from retouch.storage import (
    CosStorage,
    InvalidStorageKey,
    ObjectNotFound,
    ObjectTooLarge,
    UploadTicket,
)
from retouch.storage.errors import StorageUnavailable
from scripts.local.servers import free_port
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, FakeCos, running_fake_cos
from tests.integration.tencent_sts_fake import FakeSts, running_fake_sts

BUCKET = "retouch-1250000000"
REGION = "ap-guangzhou"
KEY = "uploads/usr_abc/upl_def"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56


@pytest.fixture
def cos() -> Iterator[FakeCos]:
    with running_fake_cos(BUCKET) as fake:
        yield fake


@pytest.fixture
def sts() -> Iterator[FakeSts]:
    with running_fake_sts() as fake:
        yield fake


def storage_for(
    cos: FakeCos, sts: FakeSts | None = None, *, token: str | None = None, role: str = ""
) -> CosStorage:
    return CosStorage(
        bucket=BUCKET,
        region=REGION,
        keys=TencentCloudKeys(
            secret_id=SECRET_ID,
            secret_key=SecretStr(SECRET_KEY),
            session_token=None if token is None else SecretStr(token),
        ),
        endpoint_url=cos.url,
        sts_endpoint_url=None if sts is None else sts.url,
        upload_role_arn=role,
    )


def post_form(ticket: UploadTicket, data: bytes, **changes: str) -> httpx.Response:
    fields = {**ticket.fields, **changes}
    content_type = fields.get("Content-Type", "application/octet-stream")
    return httpx.post(ticket.url, data=fields, files={"file": ("photo", data, content_type)})


def signed_policy(ticket: UploadTicket) -> dict[str, object]:
    return json.loads(base64.b64decode(ticket.fields["policy"]))  # type: ignore[no-any-return]


def test_put_get_head_and_delete_round_trip(cos: FakeCos) -> None:
    storage = storage_for(cos)

    storage.put(KEY, PNG, "image/png")
    info = storage.head(KEY)

    assert storage.get(KEY) == PNG
    assert info is not None
    assert (info.key, info.size, info.content_type) == (KEY, len(PNG), "image/png")
    assert info.etag == cos.objects[KEY].etag
    assert cos.objects[KEY].encryption == "AES256"  # server-side encryption requested
    storage.delete(KEY)
    assert storage.head(KEY) is None
    with pytest.raises(ObjectNotFound):
        storage.get(KEY)
    storage.delete(KEY)  # deleting a missing object is no error
    assert cos.refusals == []


def test_presigned_download_reads_the_object_and_only_that_object(cos: FakeCos) -> None:
    storage = storage_for(cos, token="session-token-1")
    storage.put(KEY, PNG, "image/png")
    storage.put("uploads/usr_abc/other", b"secret", "image/png")

    url = storage.presign_download(KEY, expires_s=60)
    tampered = url.replace("upl_def", "other")

    assert httpx.get(url).content == PNG
    assert httpx.get(tampered).status_code == 403
    assert cos.refusals == ["signature mismatch"]


def test_presigned_post_uploads_the_declared_type_and_size(cos: FakeCos) -> None:
    storage = storage_for(cos)

    ticket = storage.presign_upload(KEY, content_type="image/png", max_bytes=1000, expires_s=60)
    response = post_form(ticket, PNG)

    assert ticket.method == "POST"
    assert response.status_code == 204, response.text
    assert cos.objects[KEY].data == PNG
    assert cos.objects[KEY].content_type == "image/png"


def test_policy_binds_the_key_the_type_and_the_size(cos: FakeCos) -> None:
    ticket = storage_for(cos).presign_upload(
        KEY, content_type="image/png", max_bytes=1000, expires_s=60
    )

    conditions = signed_policy(ticket)["conditions"]

    assert {"key": KEY} in conditions  # type: ignore[operator]
    assert {"Content-Type": "image/png"} in conditions  # type: ignore[operator]
    assert {"bucket": BUCKET} in conditions  # type: ignore[operator]
    assert ["content-length-range", 1, 1000] in conditions  # type: ignore[operator]
    assert ticket.fields["q-sign-algorithm"] == "sha1"
    assert ticket.fields["q-ak"] == SECRET_ID


@pytest.mark.parametrize(
    ("data", "changes", "reason"),
    [
        (PNG, {"Content-Type": "image/gif"}, "condition Content-Type not met"),
        (b"x" * 1001, {}, "content-length-range not met"),
        (PNG, {"key": "uploads/usr_abc/elsewhere"}, "condition key not met"),
        (PNG, {"key": "uploads/usr_other/upl_def"}, "condition key not met"),
    ],
    ids=["other-type", "too-large", "other-key", "other-user"],
)
def test_an_upload_other_than_the_one_signed_is_refused(
    cos: FakeCos, data: bytes, changes: dict[str, str], reason: str
) -> None:
    ticket = storage_for(cos).presign_upload(
        KEY, content_type="image/png", max_bytes=1000, expires_s=60
    )

    response = post_form(ticket, data, **changes)

    assert response.status_code == 403
    assert cos.refusals == [reason]
    assert cos.objects == {}


def test_a_forged_policy_is_refused(cos: FakeCos) -> None:
    ticket = storage_for(cos).presign_upload(
        KEY, content_type="image/png", max_bytes=10, expires_s=60
    )
    policy = signed_policy(ticket)
    policy["conditions"] = [
        ["content-length-range", 1, 10**9] if isinstance(c, list) else c
        for c in policy["conditions"]  # type: ignore[attr-defined]
    ]
    forged = base64.b64encode(json.dumps(policy).encode()).decode()

    response = post_form(ticket, b"x" * 100, policy=forged)

    assert response.status_code == 403
    assert cos.refusals == ["form signature mismatch"]


def test_session_token_is_signed_into_the_upload_form(cos: FakeCos) -> None:
    ticket = storage_for(cos, token="session-token-1").presign_upload(
        KEY, content_type="image/png", max_bytes=1000, expires_s=60
    )

    assert ticket.fields["x-cos-security-token"] == "session-token-1"
    assert {"x-cos-security-token": "session-token-1"} in signed_policy(ticket)["conditions"]  # type: ignore[operator]
    assert post_form(ticket, PNG).status_code == 204


def test_federation_token_allows_only_uploads_of_one_key(cos: FakeCos, sts: FakeSts) -> None:
    credentials = storage_for(cos, sts).temporary_credentials(KEY, expires_s=900)

    (call,) = sts.calls
    policy = json.loads(unquote(call.parameters["Policy"]))
    (statement,) = policy["statement"]
    assert call.action == "GetFederationToken"
    assert call.parameters["DurationSeconds"] == 900
    assert statement["effect"] == "allow"
    # One object, no wildcard: neither a sibling key nor another user's can be written.
    assert statement["resource"] == [f"qcs::cos:{REGION}:uid/1250000000:{BUCKET}/{KEY}"]
    assert set(statement["action"]) == {
        "name/cos:PutObject",
        "name/cos:PostObject",
        "name/cos:InitiateMultipartUpload",
        "name/cos:ListMultipartUploads",
        "name/cos:ListParts",
        "name/cos:UploadPart",
        "name/cos:CompleteMultipartUpload",
        "name/cos:AbortMultipartUpload",
    }
    assert credentials.access_key_id.startswith("AKIDtmp")
    assert credentials.session_token
    assert (credentials.bucket, credentials.region) == (BUCKET, REGION)
    assert credentials.key == KEY


def test_with_an_upload_role_the_runtime_keys_assume_it(cos: FakeCos, sts: FakeSts) -> None:
    role = "qcs::cam::uin/100000000001:roleName/retouch-upload"
    storage = storage_for(cos, sts, token="scf-run-role-token", role=role)

    storage.temporary_credentials(KEY, expires_s=900)

    (call,) = sts.calls
    assert call.action == "AssumeRole"
    assert call.parameters["RoleArn"] == role
    assert call.parameters["RoleSessionName"] == "upload-uploads-usr_abc-upl_def"
    assert call.token == "scf-run-role-token"
    resource = json.loads(unquote(call.parameters["Policy"]))["statement"][0]["resource"]
    assert resource == [f"qcs::cos:{REGION}:uid/1250000000:{BUCKET}/{KEY}"]


def test_an_invalid_key_or_prefix_is_refused_before_any_request(cos: FakeCos, sts: FakeSts) -> None:
    storage = storage_for(cos, sts)

    with pytest.raises(InvalidStorageKey):
        storage.put("uploads/../etc", b"x", "image/png")
    with pytest.raises(InvalidStorageKey):
        storage.presign_upload("/uploads/a", content_type="image/png", max_bytes=1, expires_s=1)
    with pytest.raises(InvalidStorageKey):
        storage.temporary_credentials("uploads/usr_abc/", expires_s=900)
    assert sts.calls == []
    assert cos.objects == {}


@pytest.mark.parametrize("failure", ["unreachable", "refused"])
def test_sts_failing_is_storage_unavailable(cos: FakeCos, sts: FakeSts, failure: str) -> None:
    # GIVEN STS on a port nobody serves, or refusing our (wrong) key
    if failure == "unreachable":
        storage = storage_for(cos)
        storage.sts_endpoint_url = f"http://127.0.0.1:{free_port()}"
    else:
        storage = storage_for(cos, sts)
        storage.keys = TencentCloudKeys(
            secret_id="AKIDnotours", secret_key=SecretStr("x"), session_token=None
        )

    with pytest.raises(StorageUnavailable) as refused:
        storage.temporary_credentials(KEY, expires_s=900)

    assert refused.value.error_code.status == 503
    assert "AKID" not in str(refused.value)


def test_a_bounded_read_refuses_an_object_longer_than_its_bound(cos: FakeCos) -> None:
    storage = storage_for(cos)
    storage.put(KEY, PNG, "image/png")

    assert storage.get(KEY, max_bytes=len(PNG)) == PNG
    with pytest.raises(ObjectTooLarge):
        storage.get(KEY, max_bytes=len(PNG) - 1)
