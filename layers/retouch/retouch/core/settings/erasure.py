"""Account erasure (`retouch.erasure`): how long a deleted account waits before its data is
erased, and how many accounts one run of the job erases (docs/accounts.md, "Deleting an
account")."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class ErasureSettings(SettingsGroup):
    """The erasure of deleted accounts."""

    erasure_grace_s: int = Field(
        900,
        ge=0,
        le=86_400,
        description="a deleted account is erased no sooner than this after its deletion, so "
        "an upload URL handed out before it (RETOUCH_UPLOAD_URL_EXPIRES_S) has expired and "
        "a step that was running has ended",
    )
    erasure_batch: int = Field(
        20, ge=1, le=1000, description="deleted accounts one run of the job erases at most"
    )
