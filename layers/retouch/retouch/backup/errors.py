"""Why a backup, restore or verify stopped: one exception per cause, each with a stable code
(the jobs' outcome field and the scripts' exit line carry it)."""

from __future__ import annotations


class BackupError(Exception):
    """A backup operation refused or failed; `code` is stable, the message names the object."""

    code = "BACKUP_FAILED"

    def __init__(self, message: str, *, table: str | None = None) -> None:
        super().__init__(message)
        self.table = table


class BackupNotFound(BackupError):
    """No such backup (or no backup at all, for `latest`)."""

    code = "BACKUP_NOT_FOUND"


class BackupCorrupt(BackupError):
    """A part or a table does not match the manifest: truncated, tampered or lost rows."""

    code = "BACKUP_CORRUPT"


class RestoreTargetNotEmpty(BackupError):
    """The target database has tables and `replace` was not asked for; nothing was changed."""

    code = "RESTORE_TARGET_NOT_EMPTY"


class InvalidDatabaseName(BackupError):
    """A database name outside `[A-Za-z0-9_]{1,64}`: refused before any statement."""

    code = "INVALID_DATABASE_NAME"


class BackupUnsigned(BackupError):
    """The manifest has no signature (written before manifests were signed): refused unless
    the restore is asked to accept it."""

    code = "BACKUP_UNSIGNED"


class BackupSignatureInvalid(BackupError):
    """The manifest's signature does not match, or names a key the signing keys lack: it was
    altered, or made by someone without the key."""

    code = "BACKUP_SIGNATURE_INVALID"
