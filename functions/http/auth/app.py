"""AuthFunction: POST /v1/auth/register, /login, /refresh, /logout."""

from retouch.auth.router import router
from retouch.http import create_app, make_handler

app = create_app([router], title="Retouch auth")
handler = make_handler(app)  # AWS Lambda: app.handler
main_handler = handler  # Tencent SCF: app.main_handler
