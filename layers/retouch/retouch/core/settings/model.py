"""`Settings`: the settings groups composed into one flat, frozen view, validated by one
pydantic-core validator compiled from their declarations (`compiled`)."""

from __future__ import annotations

from retouch.core.settings.accounts import AccountSettings
from retouch.core.settings.alerts import AlertSettings
from retouch.core.settings.backup import BackupSettings
from retouch.core.settings.caller_cache import CallerCacheSettings
from retouch.core.settings.captcha import CaptchaSettings
from retouch.core.settings.compiled import CompiledSettings
from retouch.core.settings.database import DatabaseSettings
from retouch.core.settings.erasure import ErasureSettings
from retouch.core.settings.errortracking import ErrorTrackingSettings
from retouch.core.settings.events import EventsSettings
from retouch.core.settings.observability import ObservabilitySettings
from retouch.core.settings.payments import PaymentSettings
from retouch.core.settings.pipeline import PipelineSettings
from retouch.core.settings.redis_auth import RedisAuthSettings
from retouch.core.settings.service import ServiceSettings
from retouch.core.settings.storage import StorageSettings
from retouch.core.settings.verification import VerificationSettings


# The fields are taken from the last base to the first (as pydantic took a composed model's),
# so the bases are listed in reverse: service, storage, pipeline, observability, backup,
# database, alerts, error tracking, events, then Redis auth fields. That order is the order of
# validation (a validator reading `info.data` sees only fields declared before it, so each such
# pair stays in one group, in order, or the reading group comes later: Redis auth reads the
# service's URL) and which bad variable is reported first.
class Settings(
    CaptchaSettings,
    CallerCacheSettings,
    PaymentSettings,
    ErasureSettings,
    VerificationSettings,
    AccountSettings,
    RedisAuthSettings,
    EventsSettings,
    ErrorTrackingSettings,
    AlertSettings,
    DatabaseSettings,
    BackupSettings,
    ObservabilitySettings,
    PipelineSettings,
    StorageSettings,
    ServiceSettings,
    CompiledSettings,
):
    """The typed view of the environment. Field `x` is read from `RETOUCH_X`; an unknown
    RETOUCH_* variable is a typo or a stale deploy, refused by name."""
