"""`scripts/backup [--verify]` and `scripts/restore --backup <id|latest> --database NAME
[--replace] [--allow-unsigned]`: the backup, verify and restore jobs run from this machine.

They use the settings of the environment, after the running local stack's `.local/env` (as
`scripts/invoke` does): the stack's MariaDB and its local object folder, or whatever
`RETOUCH_DB_*` and `RETOUCH_STORAGE_*` name. The outcome is printed as one JSON object; a
refusal or a failed verify exits 1 with its stable code in the object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from retouch.core.settings import SettingsError, get_settings
from scripts.local.lambda_runtime import load_local_env


def _backup_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/backup", description="Back up the database.")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="instead: restore the latest backup into the scratch database and compare",
    )
    return parser.parse_args(argv)


def _restore_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/restore", description="Restore a backup.")
    parser.add_argument("--backup", required=True, help="backup id, or latest")
    parser.add_argument("--database", required=True, help="database to restore into")
    parser.add_argument(
        "--replace", action="store_true", help="drop the database's tables first, if it has any"
    )
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept a backup whose manifest is unsigned (made before manifests were signed)",
    )
    return parser.parse_args(argv)


def _finish(outcome: dict[str, Any], *, ok: bool) -> int:
    print(json.dumps(outcome, default=str))
    return 0 if ok else 1


def _settings_checked() -> bool:
    load_local_env()
    try:
        get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return False
    return True


def backup_main(argv: Sequence[str] | None = None) -> int:
    arguments = _backup_arguments(argv)
    if not _settings_checked():
        return 2
    from retouch.backup.handlers import backup_job, verify_job

    if arguments.verify:
        outcome = verify_job()
        return _finish(outcome, ok=outcome["outcome"] == "passed")
    return _finish(backup_job(), ok=True)


def restore_main(argv: Sequence[str] | None = None) -> int:
    arguments = _restore_arguments(argv)
    if not _settings_checked():
        return 2
    from retouch.backup.handlers import restore_job

    outcome = restore_job(
        {
            "backup": arguments.backup,
            "database": arguments.database,
            "replace": arguments.replace,
            "allow_unsigned": arguments.allow_unsigned,
        }
    )
    return _finish(outcome, ok=outcome["outcome"] == "restored")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    mains = {"backup": backup_main, "restore": restore_main}
    if command not in mains:
        sys.exit("usage: python -m scripts.local.backup backup|restore [options]")
    sys.exit(mains[command](sys.argv[2:]))
