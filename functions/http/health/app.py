"""HealthFunction: GET /health, /health/db, /health/redis."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.http import create_app, make_handler
    from retouch.monitoring.router import router

    app = create_app([router], title="Retouch health")
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
