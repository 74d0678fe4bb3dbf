"""The gateway only carries the bearer token; the services verify it (DESIGN.md, Auth)."""

from __future__ import annotations

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user id.")


async def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The caller's token from `Authorization: Bearer …`; a token anywhere else does not count."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise ApiError(401, "UNAUTHENTICATED", "missing bearer token: send `Authorization: Bearer <token>`")
    return credentials.credentials.strip()
