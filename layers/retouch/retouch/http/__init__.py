"""HTTP plumbing shared by every API function: app factory, middleware, adapters."""

from retouch.http.adapters import ScfApiGateway, make_handler
from retouch.http.app import create_app

__all__ = ["ScfApiGateway", "create_app", "make_handler"]
