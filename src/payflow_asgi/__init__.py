"""payflow_asgi: the payment workflow's six HTTP routes, as an embeddable Starlette app."""

from ._app import create_app
from ._settings import Settings

__all__ = ["Settings", "create_app"]
