"""The operators' routes behind the console (`/v1/admin/metrics`, `/v1/admin/tasks`,
`/v1/admin/dead-letters`, `/v1/admin/cache`): read from the rollups, any user's task with its
steps, the step queues' dead letters and their redrive, and cache invalidation. Served by
AdminFunction; docs/observability.md, "Admin API"."""
