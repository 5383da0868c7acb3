"""CatalogFunction: the public GET /v1/features, /v1/features/{key} and the operators' config
routes under /v1/admin/features and /v1/admin/providers."""

from retouch.core.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (core/coldstart.py)
    from retouch.catalog.admin_router import admin_router
    from retouch.catalog.router import router as catalog_router
    from retouch.http import create_app, make_handler

    app = create_app([catalog_router, admin_router], title="Retouch catalog")
    handler = make_handler(app)  # AWS Lambda: app.handler

main_handler = handler  # Tencent SCF: app.main_handler
