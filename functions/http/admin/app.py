"""AdminFunction: the operators' routes behind the console — /v1/admin/metrics/*, /alerts,
/v1/admin/tasks, /v1/admin/dead-letters and /v1/admin/cache/invalidate — and the console
itself (`/console`, the files of `console/` beside this module)."""

from pathlib import Path

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.admin.console import console_router
    from retouch.admin.router import router
    from retouch.http import create_app, make_handler

    app = create_app(
        [router, console_router(Path(__file__).parent / "console")], title="Retouch admin"
    )
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
