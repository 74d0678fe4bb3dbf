"""Bearer-token verification shared by every service, and minting of development tokens.

The accepted algorithms follow from the configured key, never from the token's header, so a
token cannot choose HS256 against an RSA public key (key confusion) or `none`. Headers that
name their own key (`jku`, `x5u`, `jwk`, `x5c`) are refused outright.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from services.common.errors import Unauthenticated
from services.common.settings import Settings

_SELF_KEYED_HEADERS = ("jku", "x5u", "jwk", "x5c")
_ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# Every schema stores the subject as the owner of rows in a 255-character column; a longer one,
# or one with control characters (PostgreSQL text cannot hold NUL), names no storable user.
MAX_SUBJECT_CHARS = 255
# Verified tokens are remembered (a client sends the same token on every call, and checking the
# signature and claims costs more than the rest of a small request); each use re-checks the time.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and roles, and the token itself to forward."""

    user_id: str
    roles: frozenset[str]
    token: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenVerifier:
    """Verifies bearer tokens against one configured key source."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer or None
        self._leeway = settings.jwt_leeway_seconds
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._public_key = settings.jwt_public_key or None
        self._secret = settings.jwt_secret or None
        if not (self._jwks or self._public_key or self._secret):
            raise ValueError("set DEPOT_JWT_SECRET, DEPOT_JWT_PUBLIC_KEY or DEPOT_JWT_JWKS_URL")
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    def verify(self, token: str) -> Principal:
        """Returns the principal of a valid token; raises Unauthenticated with the reason otherwise."""
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, not_before, expires = remembered
            if not_before <= time.time() < expires:
                return principal
            self._verified.pop(token, None)
        principal, claims = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        not_before = float(claims.get("nbf", 0)) - self._leeway
        self._verified[token] = (principal, not_before, float(claims["exp"]) + self._leeway)
        return principal

    def _verify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed token: {exc}") from None
        if any(name in header for name in _SELF_KEYED_HEADERS):
            raise Unauthenticated("tokens that name their own key (jku, x5u, jwk, x5c) are not accepted")
        key, algorithms = self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthenticated("token subject must be a non-empty string")
        if len(subject) > MAX_SUBJECT_CHARS or not subject.isprintable():
            raise Unauthenticated(f"token subject must be at most {MAX_SUBJECT_CHARS} printable characters")
        roles = claims.get("roles", [])
        if not isinstance(roles, list):
            roles = []
        return Principal(user_id=subject, roles=frozenset(str(r) for r in roles), token=token), claims

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key, _ASYMMETRIC_ALGORITHMS
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"no signing key for token: {exc}") from None
        if self._public_key is not None:
            return self._public_key, _ASYMMETRIC_ALGORITHMS
        return self._secret, ["HS256"]


def mint_token(
    *, secret: str, user_id: str, admin: bool = False, audience: str = "depot", ttl_seconds: int = 86400
) -> str:
    """An HS256 token for development and tests; production tokens come from an identity provider."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    if admin:
        claims["roles"] = ["admin"]
    return jwt.encode(claims, secret, algorithm="HS256")
