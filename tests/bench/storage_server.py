"""Child process of scripts/bench/pipeline.py: the local gateway's storage routes
(`scripts.local.storage_gateway`, `/_storage/<key>`) alone on 127.0.0.1:PORT, over the local
adapter the RETOUCH_STORAGE_LOCAL_* variables describe. They are what COS or S3 are to a
vendor fetching a task's inputs; served from their own process, their CPU is not counted as
the engine's.

    python -m tests.bench.storage_server PORT
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import uvicorn
    from starlette.applications import Starlette

    from scripts.local.storage_gateway import storage_routes

    port = int(argv[0])
    uvicorn.run(
        Starlette(routes=storage_routes()), host="127.0.0.1", port=port, log_level="warning"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
