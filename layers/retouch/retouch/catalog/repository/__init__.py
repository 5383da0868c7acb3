"""Features, form and pipeline versions, and provider configs: each repository's port (a
`Protocol` the use cases ask their unit of work for) and its SQL adapter, registered with
`sql_adapter` beside it.

Parameterised statements in the caller's unit of work; repositories never commit. Form and
pipeline versions are only ever inserted, never updated, so any old version stays readable.
"""

from retouch.catalog.repository.features import (
    FeatureRepository,
    MySQLFeatureRepository,
    VersionKind,
)
from retouch.catalog.repository.providers import MySQLProviderRepository, ProviderConfigRepository
from retouch.catalog.repository.versions import (
    FormRepository,
    MySQLFormRepository,
    MySQLPipelineRepository,
    PipelineRepository,
    VersionRepository,
)

__all__ = [
    "FeatureRepository",
    "FormRepository",
    "MySQLFeatureRepository",
    "MySQLFormRepository",
    "MySQLPipelineRepository",
    "MySQLProviderRepository",
    "PipelineRepository",
    "ProviderConfigRepository",
    "VersionKind",
    "VersionRepository",
]
