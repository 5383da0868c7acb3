"""Failures of the catalog domain; each maps to a registry code."""

from __future__ import annotations

from retouch.core.errors import FieldError, NotFound, ValidationFailed


class FeatureNotFound(NotFound):
    """No feature with this key (or, for public reads, none that is enabled)."""

    def __init__(self, *, key: str) -> None:
        super().__init__("No such feature", key=key)


class VersionNotFound(NotFound):
    """The feature has no form or pipeline of this version."""

    def __init__(self, *, key: str, kind: str, version: int) -> None:
        super().__init__("No such {kind} version", key=key, kind=kind, version=version)


class ConfigInvalid(ValidationFailed):
    """A form, pipeline or provider config breaks the catalog's rules; nothing was stored.
    `errors` names each offending field (`json_schema.properties.mask.format`, `steps[1].step`)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("The configuration is invalid", errors=errors)


class InputsInvalid(ValidationFailed):
    """Task inputs break the feature's form; `errors` names each field (`inputs.mask`)."""

    def __init__(self, errors: list[FieldError], *, feature_key: str, version: int) -> None:
        super().__init__(
            "The inputs do not match the feature's form",
            errors=errors,
            feature_key=feature_key,
            version=version,
        )


class NoPreviousVersion(NotFound):
    """A rollback found no version older than the feature's current one."""

    def __init__(self, *, key: str, kind: str) -> None:
        super().__init__("No {kind} version before the current one", key=key, kind=kind)
