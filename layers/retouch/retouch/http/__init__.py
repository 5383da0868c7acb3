"""HTTP plumbing shared by every API function: app factory, middleware, adapters."""

from retouch.http.adapters import ScfApiGateway, make_handler
from retouch.http.app import create_app
from retouch.http.routing import InlineRoute, api_router

__all__ = ["InlineRoute", "ScfApiGateway", "api_router", "create_app", "make_handler"]
