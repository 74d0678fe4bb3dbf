"""The bearer token of every /api route: checked here before the request goes on, and again by
each service (DESIGN.md, Auth).

The gateway verifies signature, expiry, audience, issuer and size with the services' own
TokenVerifier and settings, so a request with a bad or missing token is answered 401 before a
byte of its body is streamed to a service (an upload never reaches the files service), and a
token gRPC could not carry (control bytes, non-ASCII, over 8 KiB) never becomes a 500 or 429.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPBearer

from gateway.errors import ApiError
from services.common.auth import TokenVerifier
from services.common.errors import Unauthenticated


class BearerToken(HTTPBearer):
    """HTTPBearer's security scheme (the OpenAPI document names it as before) whose dependency is the
    verified token itself: one dependency per route to solve, not one on top of another."""

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        """The caller's verified token from `Authorization: Bearer …`; a token anywhere else does not count."""
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401, "UNAUTHENTICATED", "missing bearer token: send `Authorization: Bearer <token>`"
            )
        verifier: TokenVerifier = request.app.state.verifier
        try:
            verifier.verify(token)
        except Unauthenticated as exc:
            raise ApiError(401, "UNAUTHENTICATED", exc.message) from None
        return token


bearer_token = BearerToken(
    auto_error=False, scheme_name="HTTPBearer", description="A JWT whose `sub` is the user id."
)
