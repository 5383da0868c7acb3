"""UsersFunction: GET and DELETE /v1/me, /v1/me/quota, /v1/me/quota/ledger, the plan catalogue
(GET /v1/plans), orders and payment notifications (/v1/orders, /v1/payments/notify/{provider}),
the admins' orders and refunds (/v1/admin/orders), plans (/v1/admin/plans) and users (with
PATCH .../membership and DELETE), and the audit log (GET /v1/admin/audit)."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.audit.router import router as audit_router
    from retouch.erasure.router import admin_router as erasure_admin_router
    from retouch.erasure.router import me_router as erasure_me_router
    from retouch.http import create_app, make_handler
    from retouch.payments.router import admin_orders_router, notify_router, orders_router
    from retouch.quota.plans_router import router as plans_router
    from retouch.quota.router import router as quota_router
    from retouch.users.plans_router import router as admin_plans_router
    from retouch.users.router import admin_router, me_router

    app = create_app(
        [
            me_router,
            erasure_me_router,
            quota_router,
            plans_router,
            orders_router,
            notify_router,
            admin_orders_router,
            admin_plans_router,
            admin_router,
            erasure_admin_router,
            audit_router,
        ],
        title="Retouch users",
    )
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
