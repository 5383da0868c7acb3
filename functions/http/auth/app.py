"""AuthFunction: POST /v1/auth/register, /login, /refresh, /logout, /password/forgot,
/password/reset, GET /v1/auth/captcha, and POST /v1/me/password."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.auth.router import me_router, router
    from retouch.http import create_app, make_handler

    app = create_app([router, me_router], title="Retouch auth")
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
