"""The API token: a request reaches a protected route only with `Authorization: Bearer <token>`.

The token is compared in constant time (`hmac.compare_digest`, on bytes) and never logged or
echoed. A missing, malformed or wrong header is a 401 envelope with `WWW-Authenticate: Bearer`
(RFC 6750), before the body is read.
"""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import language_of
from ._messages import Language, render
from ._present import failure

__all__ = ["RequireToken"]


def _presented(scope: Scope) -> bytes | None:
    """The credentials of the one `Authorization: Bearer ...` header, or None."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, credentials = values[0].strip().partition(b" ")
    # The scheme is case-insensitive (RFC 7235 section 2.1).
    if scheme.lower() != b"bearer" or not credentials.strip():
        return None
    return credentials.strip()


class RequireToken:
    """Pure ASGI middleware: the wrapped route answers only requests bearing the token."""

    def __init__(self, app: ASGIApp, *, token: str, language: Language) -> None:
        self.app = app
        self._token = token.encode("ascii")
        self._language = language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        presented = _presented(scope)
        if presented is not None and hmac.compare_digest(presented, self._token):
            await self.app(scope, receive, send)
            return
        if presented is None:
            key, challenge = "unauthorized", "Bearer"
        else:
            key, challenge = "unauthorized_wrong", 'Bearer error="invalid_token"'
        language = language_of(HTTPConnection(scope), self._language)
        response = failure(
            401,
            render(key, language),
            {"code": "unauthorized"},
            language,
            headers={"WWW-Authenticate": challenge},
        )
        await response(scope, receive, send)
