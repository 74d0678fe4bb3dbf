"""Bearer-token verification shared by every service and the gateway, service tokens, and minting
of development tokens.

The accepted algorithms follow from the configured key, never from the token's header, so a
token cannot choose HS256 against an RSA public key (key confusion) or `none`. Headers that
name their own key (`jku`, `x5u`, `jwk`, `x5c`) are refused outright.

Two kinds of token are accepted:
- a user's token, signed by the identity provider (DEPOT_JWT_SECRET, a public key or JWKS);
- a service token (RFC 8693 style): a service acting for a user. `sub` is that user, `act.sub`
  the acting service, `aud` the internal audience; HS256 under DEPOT_SERVICE_SECRET only, a few
  minutes long. Only the services accept them (the gateway refuses them), and a token that
  carries `act` is never checked against the user keys, so neither key can stand in for the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from services.common.errors import Unauthenticated
from services.common.limits import MAX_SUBJECT_CHARS
from services.common.settings import SERVICE_NAMES, Settings

_SELF_KEYED_HEADERS = ("jku", "x5u", "jwk", "x5c")
_ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# Longer tokens are refused before anything is decoded (identity providers' tokens with many
# claims stay well under it; gRPC refuses metadata over 8 KiB by default, with a misleading status).
MAX_TOKEN_BYTES = 8 * 1024
# Time claims are seconds since the epoch, at most the end of year 9999: anything else (a
# 400-digit `exp`, a float that overflows) names no time and is refused before it is used.
MAX_TIME_CLAIM = 253_402_300_799
TIME_CLAIMS = ("exp", "nbf", "iat")
# Verified tokens are remembered (a client sends the same token on every call, and checking the
# signature and claims costs more than the rest of a small request); each use re-checks the time.
VERIFIED_CACHE_SIZE = 4096

# Service tokens: their own audience (a user token is never one), a short life, and a bound on it
# that the verifier enforces too, so even a leaked service token is worth minutes.
INTERNAL_AUDIENCE = "depot-internal"
SERVICE_TOKEN_SECONDS = 300
SERVICE_TOKEN_MAX_SECONDS = 600
MIN_SERVICE_SECRET_CHARS = 32


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user (the token's subject) and roles, and the service acting for them."""

    user_id: str
    roles: frozenset[str]
    # The acting service (a service token's `act.sub`); None when the user called in person.
    actor: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def admin_export(self) -> bool:
        """A service carrying out an admin's request (an admin's export): DESIGN rule 4 lets it read
        any user's sources. An admin calling in person still sees only their own data."""
        return self.actor is not None and self.is_admin


def service_secret(settings: Settings) -> str:
    """DEPOT_SERVICE_SECRET, or ValueError: every service needs it (`depot up` makes one per run)."""
    secret = settings.service_secret
    if not secret:
        raise ValueError("set DEPOT_SERVICE_SECRET: the key services sign their calls for a user with")
    if len(secret) < MIN_SERVICE_SECRET_CHARS:
        raise ValueError(f"DEPOT_SERVICE_SECRET must be at least {MIN_SERVICE_SECRET_CHARS} characters")
    if secret == settings.jwt_secret:
        raise ValueError("DEPOT_SERVICE_SECRET must differ from DEPOT_JWT_SECRET")
    return secret


class TokenVerifier:
    """Verifies bearer tokens: users' against one configured key source, and services' (only when
    `service_tokens` is set, as in every service) against the service key."""

    def __init__(self, settings: Settings, *, service_tokens: bool = False) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer or None
        self._leeway = settings.jwt_leeway_seconds
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._public_key = settings.jwt_public_key or None
        self._secret = settings.jwt_secret or None
        if not (self._jwks or self._public_key or self._secret):
            raise ValueError("set DEPOT_JWT_SECRET, DEPOT_JWT_PUBLIC_KEY or DEPOT_JWT_JWKS_URL")
        self._service_secret = service_secret(settings) if service_tokens else None
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    def verify(self, token: str) -> Principal:
        """Returns the principal of a valid token; raises Unauthenticated with the reason otherwise."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated(f"token is longer than {MAX_TOKEN_BYTES} bytes")
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
        if not token.isascii() or not token.isprintable() or " " in token:
            raise Unauthenticated("malformed token: a JWT is printable ASCII without spaces")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthenticated(f"malformed token: {exc}") from None
        if any(name in header for name in _SELF_KEYED_HEADERS):
            raise Unauthenticated("tokens that name their own key (jku, x5u, jwk, x5c) are not accepted")
        _check_times(unverified)
        if "act" in unverified:
            claims = self._service_claims(token)
            actor: str | None = claims["act"]["sub"]
        else:
            key, algorithms = self._key_for(token)
            claims = self._decode(token, key, algorithms, audience=self._audience, issuer=self._issuer)
            actor = None
        _check_times(claims)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthenticated("token subject must be a non-empty string")
        if len(subject) > MAX_SUBJECT_CHARS or not subject.isprintable():
            raise Unauthenticated(f"token subject must be at most {MAX_SUBJECT_CHARS} printable characters")
        roles = claims.get("roles", [])
        if not isinstance(roles, list):
            roles = []
        return Principal(user_id=subject, roles=frozenset(str(r) for r in roles), actor=actor), claims

    def _service_claims(self, token: str) -> dict[str, Any]:
        """The claims of a service token, verified with the service key and nothing else."""
        if self._service_secret is None:
            raise Unauthenticated("service tokens are accepted only between Depot's services")
        claims = self._decode(
            token, self._service_secret, ["HS256"], audience=INTERNAL_AUDIENCE, issuer=None, extra=["act"]
        )
        act = claims["act"]
        if not isinstance(act, dict) or act.get("sub") not in SERVICE_NAMES:
            raise Unauthenticated("a service token's act.sub must name a Depot service")
        if float(claims["exp"]) - time.time() > SERVICE_TOKEN_MAX_SECONDS:
            raise Unauthenticated(f"a service token may live at most {SERVICE_TOKEN_MAX_SECONDS} s")
        return claims

    def _decode(
        self,
        token: str,
        key: Any,
        algorithms: list[str],
        *,
        audience: str,
        issuer: str | None,
        extra: tuple[str, ...] | list[str] = (),
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "aud", *extra]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return claims

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key, _ASYMMETRIC_ALGORITHMS
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"no signing key for token: {exc}") from None
        if self._public_key is not None:
            return self._public_key, _ASYMMETRIC_ALGORITHMS
        return self._secret, ["HS256"]


def _check_times(claims: dict[str, Any]) -> None:
    """Each time claim present is a number of seconds from 0 to the end of year 9999."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        # NaN fails the comparison too; an int is compared as it is (float() would overflow).
        if not number or not 0 <= value <= MAX_TIME_CLAIM:
            raise Unauthenticated(f"token claim {name} must be seconds since 1970 up to year 9999")


class ServiceTokens:
    """Mints the tokens with which one service acts for a user: `sub` the user, `act.sub` the service,
    the user's admin role only when the request it carries out was an admin's."""

    def __init__(self, settings: Settings, *, actor: str) -> None:
        if actor not in SERVICE_NAMES:
            raise ValueError(f"unknown service {actor!r}")
        self._secret = service_secret(settings)
        self._actor = actor

    def mint(self, *, user_id: str, admin: bool) -> str:
        """A token for one batch of calls, valid SERVICE_TOKEN_SECONDS (verified when a call starts)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "act": {"sub": self._actor},
            "aud": INTERNAL_AUDIENCE,
            "iat": now,
            "exp": now + SERVICE_TOKEN_SECONDS,
        }
        if admin:
            claims["roles"] = ["admin"]
        return jwt.encode(claims, self._secret, algorithm="HS256")


def mint_token(
    *, secret: str, user_id: str, admin: bool = False, audience: str = "depot", ttl_seconds: int = 86400
) -> str:
    """An HS256 token for development and tests; production tokens come from an identity provider."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    if admin:
        claims["roles"] = ["admin"]
    return jwt.encode(claims, secret, algorithm="HS256")
