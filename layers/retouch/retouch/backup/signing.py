"""Signed manifests: an HMAC-SHA256 over the manifest, with a key from the secrets store.

A part's digest proves the part against its manifest; the signature proves the manifest,
so that someone who can write to the bucket but holds no key can neither alter a backup
(a row count, a checksum, a part's digest) nor make up one. The key is read through the
secrets port (`RETOUCH_BACKUP_SIGNING_KEYS_SECRET`: a JSON object key id → key, as the JWT
keys), its id written in the manifest (`key_id`), so keys rotate: new manifests are signed
with `RETOUCH_BACKUP_SIGNING_KEY_ID`, older ones verify while their key stays in the object.

What is signed is the manifest's JSON with sorted keys and without `signature`. A restore (and
so the verify job) refuses a manifest whose signature does not match or whose key is
unknown (`BackupSignatureInvalid`), and an unsigned one (`BackupUnsigned`: the first format,
written before signing) unless asked explicitly (`allow_unsigned`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from pydantic import SecretStr

from retouch.backup.errors import BackupError, BackupSignatureInvalid, BackupUnsigned
from retouch.backup.layout import Manifest
from retouch.core.secrets import get_secret
from retouch.core.settings import Settings
from retouch.core.settings.service import check_jwt_keys


def signing_keys(settings: Settings) -> dict[str, bytes]:
    """The keys by id; `BackupError` when the secret is not such an object."""
    try:
        raw: Any = json.loads(get_secret(settings.backup_signing_keys_secret))
        if (
            not isinstance(raw, dict)
            or not raw
            or not all(isinstance(value, str) for value in raw.values())
        ):
            raise ValueError("a JSON object key id -> key is expected")
        check_jwt_keys({kid: SecretStr(key) for kid, key in raw.items()})
    except ValueError as exc:
        raise BackupError(f"the backup signing keys are unusable: {exc}") from None
    return {kid: key.encode() for kid, key in raw.items()}


def _payload(manifest: Manifest) -> bytes:
    fields = asdict(manifest)
    fields.pop("signature", None)
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: bytes, manifest: Manifest) -> str:
    return "hmac-sha256:" + hmac.new(key, _payload(manifest), hashlib.sha256).hexdigest()


def sign(manifest: Manifest, settings: Settings) -> None:
    """Set the manifest's `key_id` and `signature` (the last change before it is written)."""
    keys = signing_keys(settings)
    key_id = settings.backup_signing_key_id or (next(iter(keys)) if len(keys) == 1 else "")
    if key_id not in keys:
        raise BackupError(
            "set RETOUCH_BACKUP_SIGNING_KEY_ID to one of the signing keys' ids"
            if not key_id
            else f"the signing key {key_id} is not among the signing keys"
        )
    manifest.key_id, manifest.signature = key_id, ""
    manifest.signature = _mac(keys[key_id], manifest)


def check(manifest: Manifest, settings: Settings, *, allow_unsigned: bool = False) -> None:
    """Refuse a manifest that is not signed with a known key (module doc)."""
    if not manifest.signature:
        if allow_unsigned:
            return
        raise BackupUnsigned(
            f"backup {manifest.id} has an unsigned manifest; restore it only if you trust "
            "the bucket, with allow_unsigned (scripts/restore --allow-unsigned)"
        )
    key = signing_keys(settings).get(manifest.key_id)
    if key is None or not hmac.compare_digest(_mac(key, manifest), manifest.signature):
        raise BackupSignatureInvalid(
            f"backup {manifest.id}: the manifest's signature does not match"
            + ("" if key is not None else f" (key {manifest.key_id!r} is unknown)")
        )
