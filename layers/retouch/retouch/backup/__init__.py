"""Logical backups of the database to object storage, restores and verified restores.

`dump.run_backup` reads every table of one consistent snapshot and writes compressed part
objects, then the manifest, then the catalogue (`layout`); `restore.restore` loads a backup
into a named database and proves it with the manifest's counts and checksums; `verify`
restores the latest into a scratch database on a schedule; `retention` decides which backups
the policy keeps. The package needs `core` (database, settings, metrics, logging) and the
storage port only; docs/operations.md is the operator's view.
"""
