"""HMAC-SHA256 signatures of the local adapter's URLs and temporary credentials.

A URL signature covers one canonical string — purpose, method, key, expiry, content type and
largest size — so a URL signed for one object, method, type or size verifies for nothing else.
A credential token covers its one key and expiry. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from retouch.storage.errors import SignatureInvalid, UploadTooLarge
from retouch.storage.keys import InvalidStorageKey, validate_key

#: Query parameters of a signed local URL.
EXPIRES = "X-Retouch-Expires"
MAX_BYTES = "X-Retouch-Max-Bytes"
SIGNATURE = "X-Retouch-Signature"
#: Header carrying a temporary credential's token on a local upload.
SECURITY_TOKEN = "X-Retouch-Security-Token"  # noqa: S105 - a header name, not a secret

_URL_PURPOSE = "retouch-storage-url-v1"
_CREDENTIAL_PURPOSE = "retouch-storage-credential-v1"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature allows: one method on one key, of one type, up to a size."""

    method: str
    key: str
    expires_at: int
    content_type: str = ""
    max_bytes: int = 0

    def canonical(self) -> bytes:
        fields = [
            _URL_PURPOSE,
            self.method,
            self.key,
            str(self.expires_at),
            self.content_type,
            str(self.max_bytes),
        ]
        return "\n".join(fields).encode()


class Signer:
    """Signs and verifies local URLs and credential tokens with one secret key."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise ValueError("the storage signing key must be at least 32 bytes")
        self._secret = secret
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """The query parameters that authorise `request`."""
        # The canonical string separates fields by newlines: a field holding one could be
        # made to read as another signed request.
        if any(
            not field.isprintable() for field in (request.method, request.key, request.content_type)
        ):
            raise ValueError("a signed field holds a control character")
        parameters = {EXPIRES: str(request.expires_at), SIGNATURE: self._mac(request.canonical())}
        if request.max_bytes:
            parameters[MAX_BYTES] = str(request.max_bytes)
        return parameters

    def verify_upload(
        self,
        parameters: Mapping[str, str],
        *,
        method: str,
        key: str,
        content_type: str,
        body_size: int,
    ) -> None:
        """Accept an upload or raise SignatureInvalid (expired, tampered, or another method,
        key or type) or UploadTooLarge (a body larger than the size signed)."""
        max_bytes = _integer(parameters.get(MAX_BYTES))
        self._verify(
            parameters,
            SignedRequest(
                method=method.upper(),
                key=_checked_key(key),
                expires_at=_integer(parameters.get(EXPIRES)),
                content_type=content_type,
                max_bytes=max_bytes,
            ),
        )
        if body_size > max_bytes:
            raise UploadTooLarge("The upload is larger than {max_bytes} bytes", max_bytes=max_bytes)

    def verify_download(self, parameters: Mapping[str, str], *, key: str) -> None:
        """Accept a read of `key` or raise SignatureInvalid."""
        self._verify(
            parameters,
            SignedRequest(
                method="GET", key=_checked_key(key), expires_at=_integer(parameters.get(EXPIRES))
            ),
        )

    def issue_token(self, key: str, *, expires_at: int) -> str:
        """A bearer token allowing uploads to `key` (and no other) until `expires_at`."""
        payload = json.dumps({"key": validate_key(key), "exp": expires_at})
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._token_mac(body)}"

    def verify_token(self, token: str, *, key: str) -> None:
        """Accept an upload to `key` with `token`, or raise SignatureInvalid."""
        body, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(), self._token_mac(body).encode()):
            raise SignatureInvalid("The security token is invalid")
        try:
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, binascii.Error):
            raise SignatureInvalid("The security token is invalid") from None
        # The MAC matched, so the claims are ours; the shape is checked all the same.
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            raise SignatureInvalid("The security token is invalid")
        if claims["exp"] <= self.now():
            raise SignatureInvalid("The security token has expired")
        if claims.get("key") != _checked_key(key):
            raise SignatureInvalid("The security token does not cover this key")

    def _verify(self, parameters: Mapping[str, str], request: SignedRequest) -> None:
        signature = parameters.get(SIGNATURE, "")
        # Checked before the expiry, so the answer never tells a forger which part was wrong.
        if not hmac.compare_digest(signature.encode(), self._mac(request.canonical()).encode()):
            raise SignatureInvalid("The signature does not match this request")
        if request.expires_at <= self.now():
            raise SignatureInvalid("The signed URL has expired")

    def _token_mac(self, body: str) -> str:
        return self._mac(f"{_CREDENTIAL_PURPOSE}\n{body}".encode())

    def _mac(self, message: bytes) -> str:
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _integer(value: str | None) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 15:
        raise SignatureInvalid("The signed URL is missing a parameter or has a malformed one")
    return int(value)


def _checked_key(key: str) -> str:
    try:
        return validate_key(key)
    except InvalidStorageKey:
        raise SignatureInvalid("The signed URL names no valid object") from None
