"""AdminFunction: the operators' routes behind the console — /v1/admin/metrics/*,
/v1/admin/tasks, /v1/admin/dead-letters and /v1/admin/cache/invalidate."""

from retouch.admin.router import router
from retouch.http import create_app, make_handler

app = create_app([router], title="Retouch admin")
handler = make_handler(app)  # AWS Lambda: app.handler
main_handler = handler  # Tencent SCF: app.main_handler
