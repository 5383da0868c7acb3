"""CallbacksFunction: POST /v1/callbacks/{provider} (vendor job notifications)."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.bootstrap.callbacks import router
    from retouch.http import create_app, make_handler

    app = create_app([router], title="Retouch callbacks")
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
