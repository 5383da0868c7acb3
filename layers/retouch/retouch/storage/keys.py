"""Object keys: the only place that makes and checks them.

Keys are made by us (`uploads/<user public id>/<upload id>`, `outputs/<task public id>/<name>`,
`work/<task public id>/<name>` for the pipeline's intermediate images,
`archive/<table>/…` for rows the retention job moved out of the database, `backups/…` for the
database backups of `retouch.backup`)
and checked before any I/O, so a key that reaches an adapter is a relative path of safe ASCII
segments: no `..`, no leading `/`, no empty segment, nothing a file system or URL reinterprets.
A segment never starts with `.`, which leaves dot-names free for an adapter's own files.
"""

from __future__ import annotations

import re

from retouch.core.errors import ValidationFailed

ROOTS = ("uploads", "outputs", "work", "archive", "backups")
MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}", re.ASCII)


class InvalidStorageKey(ValidationFailed):
    """A key or prefix breaks the key rules; nothing was read or written."""


def validate_key(key: str) -> str:
    """`key` itself when it follows the rules; InvalidStorageKey otherwise."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidStorageKey("The storage key is empty or too long")
    segments = key.split("/")
    if segments[0] not in ROOTS or len(segments) < 2:
        raise InvalidStorageKey(f"A storage key starts with one of {', '.join(ROOTS)}")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidStorageKey("A storage key segment has a character outside [A-Za-z0-9._-]")
    return key


def validate_prefix(prefix: str) -> str:
    """A key prefix ends with `/` and what comes before it is a valid key."""
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidStorageKey("A storage key prefix ends with '/'")
    validate_key(prefix[:-1])
    return prefix


def upload_key(*, user_id: str, upload_id: str) -> str:
    """Where a user's upload lives: under the user's own prefix."""
    return validate_key(f"{user_prefix(user_id)}{upload_id}")


def user_prefix(user_id: str) -> str:
    """The prefix a user's uploads are confined to."""
    return validate_prefix(f"uploads/{user_id}/")


def output_key(*, task_id: str, name: str) -> str:
    """Where a task's result image lives."""
    return validate_key(f"outputs/{task_id}/{name}")


def work_key(*, task_id: str, name: str) -> str:
    """Where the pipeline keeps a task's intermediate images (prepared inputs, a provider's
    raw results) until the task ends."""
    return validate_key(f"work/{task_id}/{name}")


def session_name(key: str) -> str:
    """The STS session name of upload credentials for `key` (`upload-uploads-usr_…-upl_…`),
    so the cloud's audit log tells whose they were; at most 64 of `[A-Za-z0-9._-]`."""
    return "upload-" + validate_key(key).replace("/", "-")[:57]
