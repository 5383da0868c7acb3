"""Cache keys: a namespace (the unit of invalidation) and an id inside it.

Redis layout, one hash tag per namespace so a cluster keeps a namespace on one shard (MGET
of its version and a value is then legal):

    c:{<namespace>}:ver              the namespace's version (INCR on invalidation)
    c:{<namespace>}:v<version>:<id>  a value of that version
    ...:lock                         the rebuild lock of that value
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Namespaces are chosen by code ("features", "forms", "user:usr_…"); ids may come from a
# client (a feature key in a path), so both are checked before they reach any lookup.
NAMESPACE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}(?::[A-Za-z0-9_.-]{1,64})?")
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """One cached value: `id` within `namespace` (e.g. `CacheKey("features", "cutout")`)."""

    namespace: str
    id: str

    def is_well_formed(self) -> bool:
        return bool(NAMESPACE_PATTERN.fullmatch(self.namespace) and ID_PATTERN.fullmatch(self.id))


def version_key(namespace: str) -> str:
    return f"c:{{{namespace}}}:ver"


def value_key(key: CacheKey, version: int) -> str:
    return f"c:{{{key.namespace}}}:v{version}:{key.id}"


def lock_key(key: CacheKey, version: int) -> str:
    return f"{value_key(key, version)}:lock"
