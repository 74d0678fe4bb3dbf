"""The bearer token of every /api route: checked here before the request goes on, and again by
each service (DESIGN.md, Auth).

The gateway verifies signature, expiry, audience, issuer and size with the services' own
TokenVerifier and settings, so a request with a bad or missing token is answered 401 before a
byte of its body is streamed to a service (an upload never reaches the files service), and a
token gRPC could not carry (control bytes, non-ASCII, over 8 KiB) never becomes a 500 or 429.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import ApiError
from services.common.auth import TokenVerifier
from services.common.errors import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


async def bearer_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    """The caller's verified token from `Authorization: Bearer …`; a token anywhere else does not count."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise ApiError(401, "UNAUTHENTICATED", "missing bearer token: send `Authorization: Bearer <token>`")
    token = credentials.credentials.strip()
    verifier: TokenVerifier = request.app.state.verifier
    try:
        verifier.verify(token)
    except Unauthenticated as exc:
        raise ApiError(401, "UNAUTHENTICATED", exc.message) from None
    return token
