"""The configuration every settings group shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SettingsGroup(BaseModel):
    """A group of settings; `Settings` composes the groups into one flat model."""

    # An unknown RETOUCH_* variable is a typo or a stale deploy: refuse it by name. A group is
    # never validated on its own, so its validator is not built (at import, that would add
    # about 2 ms of cold start); `Settings` builds its own.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
