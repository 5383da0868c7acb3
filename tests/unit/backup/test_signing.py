"""Signed manifests: a manifest altered after signing (a row count, a checksum, a part's
digest) is refused, as is one signed with an unknown key; an unsigned one (the first format)
only with `allow_unsigned`; keys rotate by id."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from retouch.backup import signing
from retouch.backup.errors import BackupError, BackupSignatureInvalid, BackupUnsigned
from retouch.backup.layout import Manifest, Part, TableEntry
from retouch.core.settings import Settings, get_settings

KEYS = {"k-2026": "a" * 32, "k-2027": "b" * 40}


def _settings() -> Settings:
    """The settings as the environment now says (they are cached per process)."""
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RETOUCH_SECRET_BACKUP_SIGNING_KEYS", json.dumps(KEYS))
    monkeypatch.setenv("RETOUCH_BACKUP_SIGNING_KEY_ID", "k-2027")
    return _settings()


def _manifest() -> Manifest:
    part = Part("backups/20261205T020000Z-ab12/tasks/000000.jsonl.gz", 3, 100, "sha256:00")
    table = TableEntry("tasks", "CREATE TABLE tasks (id int)", ["id"], ["id"], 3, "sha256:11")
    table.parts.append(part)
    return Manifest("20261205T020000Z-ab12", "retouch", "2026-12-05T02:00:00", [], [table])


def _signed(settings: Settings) -> Manifest:
    manifest = _manifest()
    signing.sign(manifest, settings)
    return Manifest.from_json(manifest.to_json())  # as read back from the bucket


def test_a_signed_manifest_passes_and_names_its_key(settings: Settings) -> None:
    manifest = _signed(settings)

    signing.check(manifest, settings)

    assert manifest.key_id == "k-2027"
    assert manifest.signature.startswith("hmac-sha256:")


def _more_rows(manifest: Manifest) -> None:
    manifest.tables[0].rows += 1


def _other_checksum(manifest: Manifest) -> None:
    manifest.tables[0].checksum = "sha256:22"


def _other_part_digest(manifest: Manifest) -> None:
    manifest.tables[0].parts[0].sha256 = "sha256:33"


def _table_dropped(manifest: Manifest) -> None:
    manifest.tables.clear()


@pytest.mark.parametrize(
    "tamper", [_more_rows, _other_checksum, _other_part_digest, _table_dropped]
)
def test_a_manifest_altered_after_signing_is_refused(
    settings: Settings, tamper: Callable[[Manifest], None]
) -> None:
    manifest = _signed(settings)
    tamper(manifest)

    with pytest.raises(BackupSignatureInvalid, match="signature does not match") as refused:
        signing.check(manifest, settings)
    assert refused.value.code == "BACKUP_SIGNATURE_INVALID"


def test_a_signature_made_with_a_key_the_service_lacks_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a manifest signed by someone else's key under a key id we do not hold
    monkeypatch.setenv("RETOUCH_SECRET_BACKUP_SIGNING_KEYS", json.dumps({"forged": "f" * 32}))
    monkeypatch.setenv("RETOUCH_BACKUP_SIGNING_KEY_ID", "forged")
    forged = _signed(_settings())
    # WHEN the service, holding its own keys, restores it
    monkeypatch.setenv("RETOUCH_SECRET_BACKUP_SIGNING_KEYS", json.dumps(KEYS))

    with pytest.raises(BackupSignatureInvalid, match="'forged' is unknown"):
        signing.check(forged, settings)


def test_a_retired_key_still_verifies_while_it_is_kept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_BACKUP_SIGNING_KEY_ID", "k-2026")
    older = _signed(_settings())

    signing.check(older, settings)  # signed with k-2026, now signing with k-2027

    assert older.key_id == "k-2026"


def test_an_unsigned_manifest_is_refused_unless_allowed(settings: Settings) -> None:
    unsigned = _manifest()
    unsigned.format = 1

    with pytest.raises(BackupUnsigned, match="allow-unsigned") as refused:
        signing.check(unsigned, settings)
    assert refused.value.code == "BACKUP_UNSIGNED"

    signing.check(unsigned, settings, allow_unsigned=True)


def test_an_unsigned_flag_does_not_excuse_a_bad_signature(settings: Settings) -> None:
    manifest = _signed(settings)
    manifest.signature = "hmac-sha256:" + "0" * 64

    with pytest.raises(BackupSignatureInvalid):
        signing.check(manifest, settings, allow_unsigned=True)


@pytest.mark.parametrize(
    "keys", ["not json", "[]", "{}", json.dumps({"k": "short"}), json.dumps({"bad id!": "a" * 32})]
)
def test_unusable_signing_keys_stop_the_signing(monkeypatch: pytest.MonkeyPatch, keys: str) -> None:
    monkeypatch.setenv("RETOUCH_SECRET_BACKUP_SIGNING_KEYS", keys)

    with pytest.raises(BackupError, match="signing keys are unusable"):
        signing.sign(_manifest(), _settings())


def test_several_keys_and_no_key_id_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_SECRET_BACKUP_SIGNING_KEYS", json.dumps(KEYS))

    with pytest.raises(BackupError, match="RETOUCH_BACKUP_SIGNING_KEY_ID"):
        signing.sign(_manifest(), _settings())
