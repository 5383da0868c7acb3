"""The `s3` adapter: AWS S3 (or an S3-compatible store) through boto3, upload credentials
through STS AssumeRole. boto3 comes with the Lambda runtime and is imported on first use
only (about 150 ms), so a function that never touches S3 never pays for it.

An upload is a presigned POST whose policy carries the exact key, the exact Content-Type and
`content-length-range` [1, max_bytes]; S3 refuses a form that breaks it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from retouch.core.time import from_epoch
from retouch.storage.errors import ObjectNotFound, StorageUnavailable, read_size, within
from retouch.storage.keys import session_name, validate_key
from retouch.storage.port import Credentials, ObjectInfo, UploadTicket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

#: What upload credentials may do: PutObject covers simple and multipart uploads (create,
#: upload part, complete); aborting and listing parts are separate actions.
UPLOAD_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
#: STS refuses shorter sessions.
MIN_SESSION_S = 900
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Implements `Storage` on one S3 bucket."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        upload_role_arn: str,
        endpoint_url: str | None = None,
        sts_endpoint_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.upload_role_arn = upload_role_arn
        self.endpoint_url = endpoint_url
        self.sts_endpoint_url = sts_endpoint_url
        self.clock = clock
        self._s3: S3Client | None = None
        self._sts: STSClient | None = None

    # --- presigning ------------------------------------------------------------------------

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_s: int
    ) -> UploadTicket:
        if max_bytes < 1 or expires_s < 1:
            raise ValueError("max_bytes and expires_s must be positive")
        expires_at = int(self.clock()) + expires_s
        with _reachable("presign_upload"):
            post = self._client().generate_presigned_post(
                Bucket=self.bucket,
                Key=validate_key(key),  # boto3 adds the exact {"key": ...} condition
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires_s,
            )
        return UploadTicket(
            method="POST",
            url=post["url"],
            headers={},
            expires_at=from_epoch(expires_at),
            fields={name: str(value) for name, value in post["fields"].items()},
        )

    def presign_download(self, key: str, *, expires_s: int) -> str:
        if expires_s < 1:
            raise ValueError("expires_s must be positive")
        with _reachable("presign_download"):
            return self._client().generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": validate_key(key)},
                ExpiresIn=expires_s,
            )

    def temporary_credentials(self, key: str, *, expires_s: int) -> Credentials:
        """Keys of the upload role, narrowed by a session policy to uploads of `key` alone
        (the session may do only what both the role and the policy allow)."""
        policy = json.dumps(self.upload_policy(validate_key(key)))
        with _reachable("assume_role"):
            response = self._sts_client().assume_role(
                RoleArn=self.upload_role_arn,
                RoleSessionName=session_name(key),
                Policy=policy,
                DurationSeconds=max(expires_s, MIN_SESSION_S),
            )
        keys = response["Credentials"]
        return Credentials(
            access_key_id=keys["AccessKeyId"],
            secret_access_key=keys["SecretAccessKey"],
            session_token=keys["SessionToken"],
            key=key,
            bucket=self.bucket,
            region=self.region,
            expires_at=keys["Expiration"],
        )

    def upload_policy(self, key: str) -> dict[str, Any]:
        """The session policy of upload credentials: upload actions on the one object `key`
        (no wildcard: a policy cannot bind the size, so it binds the object)."""
        partition = "aws-cn" if self.region.startswith("cn-") else "aws"
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": list(UPLOAD_ACTIONS),
                    "Resource": f"arn:{partition}:s3:::{self.bucket}/{key}",
                }
            ],
        }

    # --- objects ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # Encrypted at rest whatever the bucket's default (SSE-S3: no key policy to grant).
        self._client().put_object(
            Bucket=self.bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            ServerSideEncryption="AES256",
        )

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        client = self._client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=validate_key(key))
        except client.exceptions.NoSuchKey:
            raise ObjectNotFound("No such object") from None
        with response["Body"] as body:
            return within(body.read(read_size(max_bytes)), max_bytes)

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            response = self._client().head_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            content_type=response.get("ContentType", "application/octet-stream"),
            etag=response.get("ETag", "").strip('"'),
            last_modified=response["LastModified"],
        )

    def delete(self, key: str) -> None:
        self._client().delete_object(Bucket=self.bucket, Key=validate_key(key))

    # --- clients ---------------------------------------------------------------------------

    def _client(self) -> S3Client:
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            # An endpoint of our choosing (an S3-compatible store, a test server) answers at
            # one host, so the bucket goes in the path; AWS itself wants virtual hosts.
            addressing: Literal["path", "virtual"] = "path" if self.endpoint_url else "virtual"
            self._s3 = boto3.client(
                "s3",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": addressing},
                    connect_timeout=2,
                    read_timeout=10,
                    retries={"mode": "standard", "max_attempts": 3},
                ),
            )
        return self._s3

    def _sts_client(self) -> STSClient:
        if self._sts is None:
            import boto3

            self._sts = boto3.client(
                "sts", region_name=self.region, endpoint_url=self.sts_endpoint_url
            )
        return self._sts


@contextmanager
def _reachable(operation: str) -> Iterator[None]:
    """botocore's failures (no credentials, unreachable endpoint, refused call) as
    StorageUnavailable (503); the cause is logged for operators."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        from retouch.core.logging import logger  # Powertools loads botocore: on failure only

        logger.warning(
            "storage unavailable",
            extra={"backend": "s3", "operation": operation, "error": type(exc).__name__},
        )
        raise StorageUnavailable(f"s3 {operation} failed") from exc
