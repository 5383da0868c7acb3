"""The `cos` adapter: Tencent Cloud Object Storage through cos-python-sdk-v5, upload
credentials through Tencent STS (tencentcloud-sdk-python). Both SDKs come with the SCF
runtime and are imported on first use only, so a function that never touches COS never pays
for them; presigning an upload needs neither.

An upload is a COS POST Object form whose policy carries the exact key, the exact
Content-Type and `content-length-range` [1, max_bytes], signed as COS documents for forms
(q-sign-algorithm sha1: SignKey = HMAC-SHA1(SecretKey, KeyTime), Signature =
HMAC-SHA1(SignKey, SHA1(policy))). COS refuses a form whose fields break the policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from retouch.core.settings import TencentCloudKeys
from retouch.core.time import from_epoch
from retouch.storage.errors import ObjectNotFound, StorageUnavailable, read_size, within
from retouch.storage.keys import session_name, validate_key
from retouch.storage.port import Credentials, ObjectInfo, UploadTicket

if TYPE_CHECKING:
    from qcloud_cos import CosS3Client

#: What upload credentials may do: simple, form and multipart uploads, nothing else.
UPLOAD_ACTIONS = (
    "name/cos:PutObject",
    "name/cos:PostObject",
    "name/cos:InitiateMultipartUpload",
    "name/cos:ListMultipartUploads",
    "name/cos:ListParts",
    "name/cos:UploadPart",
    "name/cos:CompleteMultipartUpload",
    "name/cos:AbortMultipartUpload",
)
#: STS GetFederationToken wants a name of letters only.
FEDERATION_NAME = "retouchupload"
_TIMEOUT_S = 10


class CosStorage:
    """Implements `Storage` on one COS bucket (`<name>-<appid>`)."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        keys: TencentCloudKeys,
        endpoint_url: str | None = None,
        sts_endpoint_url: str | None = None,
        upload_role_arn: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.appid = bucket.rsplit("-", 1)[-1]
        self.keys = keys
        self.endpoint_url = endpoint_url
        self.sts_endpoint_url = sts_endpoint_url
        self.upload_role_arn = upload_role_arn
        self.clock = clock
        self._cos: CosS3Client | None = None

    # --- presigning ------------------------------------------------------------------------

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_s: int
    ) -> UploadTicket:
        if max_bytes < 1 or expires_s < 1:
            raise ValueError("max_bytes and expires_s must be positive")
        start = int(self.clock())
        end = start + expires_s
        key_time = f"{start};{end}"
        secret_id = self.keys.secret_id
        signed_fields = {
            "key": validate_key(key),
            "Content-Type": content_type,
            "q-sign-algorithm": "sha1",
            "q-ak": secret_id,
        }
        if self.keys.session_token is not None:
            signed_fields["x-cos-security-token"] = self.keys.session_token.get_secret_value()
        policy = {
            "expiration": from_epoch(end).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                {"bucket": self.bucket},
                *({name: value} for name, value in signed_fields.items()),
                {"q-sign-time": key_time},
                ["content-length-range", 1, max_bytes],
            ],
        }
        policy_text = json.dumps(policy, separators=(",", ":"))
        return UploadTicket(
            method="POST",
            url=self._bucket_url(),
            headers={},
            expires_at=from_epoch(end),
            fields={
                **signed_fields,
                "policy": base64.b64encode(policy_text.encode()).decode(),
                "q-key-time": key_time,
                "q-signature": form_signature(
                    policy_text,
                    secret_key=self.keys.secret_key.get_secret_value(),
                    key_time=key_time,
                ),
            },
        )

    def presign_download(self, key: str, *, expires_s: int) -> str:
        if expires_s < 1:
            raise ValueError("expires_s must be positive")
        return str(
            self._client().get_presigned_url(
                Bucket=self.bucket,
                Key=validate_key(key),
                Method="GET",
                Expired=expires_s,
                Params=self._token_parameter(),
            )
        )

    def temporary_credentials(self, key: str, *, expires_s: int) -> Credentials:
        """STS keys for uploads of `key` alone: AssumeRole of the upload role when one is
        configured (callable with the SCF run role's temporary keys), else
        GetFederationToken (which STS accepts from permanent keys only)."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sts.v20180813 import models

        policy = quote(json.dumps(self.upload_policy(validate_key(key))), safe="")
        request: Any
        if self.upload_role_arn:
            request = models.AssumeRoleRequest()
            request.RoleArn = self.upload_role_arn
            request.RoleSessionName = session_name(key)
            call = "AssumeRole"
        else:
            request = models.GetFederationTokenRequest()
            request.Name = FEDERATION_NAME
            call = "GetFederationToken"
        request.Policy = policy
        request.DurationSeconds = expires_s
        try:
            response = getattr(self._sts_client(), call)(request)
        except TencentCloudSDKException as exc:
            from retouch.core.logging import logger  # Powertools loads botocore: on failure only

            logger.warning(
                "storage unavailable",
                extra={"backend": "cos", "operation": call, "error": exc.get_code()},
            )
            raise StorageUnavailable(f"cos {call} failed") from exc
        return Credentials(
            access_key_id=response.Credentials.TmpSecretId,
            secret_access_key=response.Credentials.TmpSecretKey,
            session_token=response.Credentials.Token,
            key=key,
            bucket=self.bucket,
            region=self.region,
            expires_at=from_epoch(int(response.ExpiredTime)),
        )

    def upload_policy(self, key: str) -> dict[str, Any]:
        """The CAM policy of upload credentials: upload actions on the one object `key` (no
        wildcard: a policy cannot bind the size, so it binds the object)."""
        resource = f"qcs::cos:{self.region}:uid/{self.appid}:{self.bucket}/{key}"
        return {
            "version": "2.0",
            "statement": [
                {"effect": "allow", "action": list(UPLOAD_ACTIONS), "resource": [resource]}
            ],
        }

    # --- objects ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # Encrypted at rest whatever the bucket's default (SSE-COS, x-cos-server-side-encryption).
        self._client().put_object(
            Bucket=self.bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            ServerSideEncryption="AES256",
        )

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        from qcloud_cos.cos_exception import CosServiceError

        try:
            response = self._client().get_object(Bucket=self.bucket, Key=validate_key(key))
        except CosServiceError as error:
            if error.get_status_code() == 404:
                raise ObjectNotFound("No such object") from None
            raise
        stream = response["Body"].get_raw_stream()
        try:
            return within(bytes(stream.read(read_size(max_bytes))), max_bytes)
        finally:
            stream.close()

    def head(self, key: str) -> ObjectInfo | None:
        from qcloud_cos.cos_exception import CosServiceError

        try:
            headers = self._client().head_object(Bucket=self.bucket, Key=validate_key(key))
        except CosServiceError as error:
            if error.get_status_code() == 404:
                return None
            raise
        return object_info(key, headers)

    def delete(self, key: str) -> None:
        self._client().delete_object(Bucket=self.bucket, Key=validate_key(key))

    # --- clients ---------------------------------------------------------------------------

    def _client(self) -> CosS3Client:
        if self._cos is None:
            from qcloud_cos import CosConfig, CosS3Client

            options: dict[str, Any] = {"Scheme": "https"}
            if self.endpoint_url:
                parts = urlsplit(self.endpoint_url)
                options = {"Scheme": parts.scheme, "Domain": parts.netloc}
            config = CosConfig(
                Region=self.region,
                SecretId=self.keys.secret_id,
                SecretKey=self.keys.secret_key.get_secret_value(),
                Token=self._token(),
                Timeout=_TIMEOUT_S,
                **options,
            )
            self._cos = CosS3Client(config, retry=1)
        return self._cos

    def _sts_client(self) -> Any:
        # Not cached: a credentials request is rare, and the client is cheap beside the call.
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sts.v20180813.sts_client import StsClient

        http = HttpProfile(reqTimeout=_TIMEOUT_S)
        if self.sts_endpoint_url:
            parts = urlsplit(self.sts_endpoint_url)
            http = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=_TIMEOUT_S)
        credential = Credential(
            self.keys.secret_id, self.keys.secret_key.get_secret_value(), self._token()
        )
        return StsClient(credential, self.region, ClientProfile(httpProfile=http))

    def _bucket_url(self) -> str:
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/") + "/"
        return f"https://{self.bucket}.cos.{self.region}.myqcloud.com/"

    def _token(self) -> str | None:
        token = self.keys.session_token
        return None if token is None else token.get_secret_value()

    def _token_parameter(self) -> dict[str, str]:
        token = self._token()
        return {} if token is None else {"x-cos-security-token": token}


def form_signature(policy_text: str, *, secret_key: str, key_time: str) -> str:
    """COS's signature of a POST Object form (hex HMAC-SHA1 chain over the policy text)."""
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    string_to_sign = hashlib.sha1(policy_text.encode()).hexdigest()  # noqa: S324 - COS's scheme
    return hmac.new(sign_key.encode(), string_to_sign.encode(), hashlib.sha1).hexdigest()


def object_info(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    """`ObjectInfo` from the response headers of a COS HEAD Object."""
    lowered = {name.lower(): value for name, value in headers.items()}
    modified = lowered.get("last-modified")
    return ObjectInfo(
        key=key,
        size=int(lowered.get("content-length", 0)),
        content_type=lowered.get("content-type", "application/octet-stream"),
        etag=lowered.get("etag", "").strip('"'),
        last_modified=parsedate_to_datetime(modified) if modified else from_epoch(0),
    )
