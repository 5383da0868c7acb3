"""Provider configs: port and SQL."""

from __future__ import annotations

import json
from typing import Protocol

from retouch.catalog.schemas import ProviderRead, ProviderWrite
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db
from retouch.core.units import sql_adapter


class ProviderConfigRepository(Protocol):
    """Provider configs by key (credential references, never secrets)."""

    def upsert(self, provider: ProviderWrite) -> None: ...

    def get(self, key: str, *, for_update: bool = False) -> ProviderRead | None: ...

    def list(self) -> list[ProviderRead]:
        """Every provider config, ordered by key."""
        ...

    def keys(self) -> set[str]: ...


_PROVIDER_SELECT = (
    "SELECT provider_key, kind, endpoint, credential_ref, options, weight, concurrency_limit, "
    "enabled, updated_at FROM provider_configs"
)


def _provider(row: Row) -> ProviderRead:
    return ProviderRead(
        key=row["provider_key"],
        kind=row["kind"],
        endpoint=row["endpoint"],
        credential_ref=row["credential_ref"],
        options=json.loads(row["options"]) if row["options"] else {},
        weight=int(row["weight"]),
        concurrency_limit=int(row["concurrency_limit"]),
        enabled=bool(row["enabled"]),
        updated_at=from_db(row["updated_at"]),
    )


@sql_adapter(ProviderConfigRepository)
class MySQLProviderRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, provider: ProviderWrite) -> None:
        self._uow.execute(
            "INSERT INTO provider_configs (provider_key, kind, endpoint, credential_ref, options, "
            "weight, concurrency_limit, enabled) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE kind = VALUES(kind), endpoint = VALUES(endpoint), "
            "credential_ref = VALUES(credential_ref), options = VALUES(options), "
            "weight = VALUES(weight), "
            "concurrency_limit = VALUES(concurrency_limit), enabled = VALUES(enabled)",
            (
                provider.key,
                provider.kind,
                provider.endpoint,
                provider.credential_ref,
                json.dumps(provider.options, separators=(",", ":")) if provider.options else None,
                provider.weight,
                provider.concurrency_limit,
                provider.enabled,
            ),
        )

    def get(self, key: str, *, for_update: bool = False) -> ProviderRead | None:
        sql = _PROVIDER_SELECT + " WHERE provider_key = %s"
        row = self._uow.fetch_one(sql + " FOR UPDATE" if for_update else sql, (key,))
        return None if row is None else _provider(row)

    def list(self) -> list[ProviderRead]:
        rows = self._uow.fetch_all(_PROVIDER_SELECT + " ORDER BY provider_key")
        return [_provider(row) for row in rows]

    def keys(self) -> set[str]:
        rows = self._uow.fetch_all("SELECT provider_key FROM provider_configs")
        return {row["provider_key"] for row in rows}
