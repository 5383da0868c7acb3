"""TasksFunction: /v1/tasks (create, list, read, cancel, delete, events)."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.http import create_app, make_handler
    from retouch.tasks.router import router

    app = create_app([router], title="Retouch tasks")
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
