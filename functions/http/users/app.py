"""UsersFunction: GET /v1/me and the admin user routes (/v1/admin/users...)."""

from retouch.http import create_app, make_handler
from retouch.users.router import admin_router, me_router

app = create_app([me_router, admin_router], title="Retouch users")
handler = make_handler(app)  # AWS Lambda: app.handler
main_handler = handler  # Tencent SCF: app.main_handler
