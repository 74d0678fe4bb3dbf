"""The token catalogue: every forged, expired or misaddressed token is refused (no I/O)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.common.auth import INTERNAL_AUDIENCE, ServiceTokens, TokenVerifier, mint_token
from services.common.errors import Unauthenticated
from services.common.settings import Settings

SECRET = "a-test-secret-of-reasonable-length-123456"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "aud": "depot", "iat": now, "exp": now + 600, **overrides}


def hs_verifier(**settings: Any) -> TokenVerifier:
    return TokenVerifier(Settings(jwt_secret=SECRET, **settings))


def unsigned(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def test_a_valid_token_yields_its_subject_and_roles() -> None:
    token = mint_token(secret=SECRET, user_id="alice", admin=True)
    principal = hs_verifier().verify(token)
    assert principal.user_id == "alice" and principal.is_admin and principal.actor is None


@pytest.mark.parametrize("subject", ["a" * 255, "Zoë 张伟", "user@example.com"])
def test_any_printable_subject_up_to_the_owner_column_width_is_accepted(subject: str) -> None:
    assert hs_verifier().verify(jwt.encode(claims(sub=subject), SECRET, "HS256")).user_id == subject


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(unsigned(claims(), {"alg": "none", "typ": "JWT"}), id="alg-none"),
        pytest.param(
            jwt.encode(claims(exp=int(time.time()) - 31), SECRET, "HS256"), id="expired-beyond-leeway"
        ),
        pytest.param(jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, "HS256"), id="nbf-in-future"),
        pytest.param(jwt.encode(claims(aud="someone-else"), SECRET, "HS256"), id="wrong-audience"),
        pytest.param(
            jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, "HS256"), id="no-exp"
        ),
        pytest.param(jwt.encode(claims(), "another-secret-that-is-long-enough!!", "HS256"), id="wrong-key"),
        pytest.param(jwt.encode(claims(sub=""), SECRET, "HS256"), id="empty-subject"),
        pytest.param(jwt.encode(claims(sub="a" * 256), SECRET, "HS256"), id="subject-too-long"),
        pytest.param(jwt.encode(claims(sub="al\x00ice"), SECRET, "HS256"), id="subject-with-nul"),
        pytest.param(jwt.encode(claims(sub="al\nice"), SECRET, "HS256"), id="subject-with-newline"),
        pytest.param("not.a.token", id="malformed"),
        pytest.param("", id="empty"),
        pytest.param(
            jwt.encode(claims(), SECRET, "HS256", headers={"jku": "https://attacker.example/jwks"}), id="jku"
        ),
        pytest.param(
            jwt.encode(claims(), SECRET, "HS256", headers={"x5u": "https://attacker.example/c"}), id="x5u"
        ),
        pytest.param(
            jwt.encode(claims(), SECRET, "HS256", headers={"jwk": {"kty": "oct", "k": "AA"}}), id="jwk"
        ),
    ],
)
def test_bad_tokens_are_unauthenticated(token: str) -> None:
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(token)


def test_expiry_within_the_leeway_is_accepted() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, "HS256")
    assert hs_verifier().verify(token).user_id == "alice"


def test_issuer_is_checked_when_configured() -> None:
    verifier = hs_verifier(jwt_issuer="https://idp.example")
    with pytest.raises(Unauthenticated):
        verifier.verify(jwt.encode(claims(iss="https://evil.example"), SECRET, "HS256"))
    assert verifier.verify(jwt.encode(claims(iss="https://idp.example"), SECRET, "HS256")).user_id == "alice"


def _rsa_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def test_rs256_tokens_verify_against_the_public_key() -> None:
    key, public = _rsa_pair()
    verifier = TokenVerifier(Settings(jwt_public_key=public))
    assert verifier.verify(jwt.encode(claims(), key, "RS256")).user_id == "alice"


def test_es256_tokens_verify_against_the_public_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = TokenVerifier(Settings(jwt_public_key=public.decode()))
    assert verifier.verify(jwt.encode(claims(), key, "ES256")).user_id == "alice"


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """Key confusion: an attacker signs HS256 using the RSA public key text as the HMAC secret."""
    _, public = _rsa_pair()
    verifier = TokenVerifier(Settings(jwt_public_key=public))
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signature = hmac.new(public.encode(), header + b"." + body, hashlib.sha256).digest()
    forged = (header + b"." + body + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)


def test_the_development_secret_is_refused_outside_embedded_mode() -> None:
    from services.common.settings import DEVELOPMENT_JWT_SECRET

    with pytest.raises(ValueError, match="development secret"):
        Settings(jwt_secret=DEVELOPMENT_JWT_SECRET, embedded=False)
    assert Settings(jwt_secret=DEVELOPMENT_JWT_SECRET, embedded=True).embedded


class Clock:
    """A wall clock the test moves forward (patched over the verifier's `time.time`)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("services.common.auth.time.time", fake)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(fake))
    return fake


class _FrozenDatetime:
    """jwt reads the time through datetime.now(tz=utc); this answers with the fake clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self, tz: Any = None) -> Any:
        from datetime import datetime

        return datetime.fromtimestamp(self._clock.now, tz=tz)

    def __getattr__(self, name: str) -> Any:
        from datetime import datetime

        return getattr(datetime, name)


def test_a_remembered_token_still_expires_at_exp_plus_leeway(clock: Clock) -> None:
    verifier = hs_verifier(jwt_leeway_seconds=30)
    token = jwt.encode(claims(exp=int(clock.now) + 60), SECRET, "HS256")
    assert verifier.verify(token).user_id == "alice"
    clock.now += 60 + 29
    assert verifier.verify(token).user_id == "alice"  # within the leeway, from the cache
    clock.now += 2
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
    with pytest.raises(Unauthenticated):  # and it stays refused once dropped from the cache
        verifier.verify(token)


def test_the_cache_is_bounded_and_still_verifies_each_new_token(clock: Clock) -> None:
    from services.common import auth

    verifier = hs_verifier()
    tokens = [
        jwt.encode(claims(sub=f"user-{i}"), SECRET, "HS256") for i in range(auth.VERIFIED_CACHE_SIZE + 5)
    ]
    assert [verifier.verify(t).user_id for t in tokens] == [f"user-{i}" for i in range(len(tokens))]
    assert len(verifier._verified) == auth.VERIFIED_CACHE_SIZE
    forged = tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BB")
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)


# Bounds: what a token may be before anything is decoded, and its time claims --------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(jwt.encode(claims(exp=10**400), SECRET, "HS256"), id="400-digit-exp"),
        pytest.param(jwt.encode(claims(nbf=-(10**400)), SECRET, "HS256"), id="400-digit-negative-nbf"),
        pytest.param(jwt.encode(claims(iat=10**30), SECRET, "HS256"), id="huge-iat"),
        pytest.param(jwt.encode(claims(exp=1e300), SECRET, "HS256"), id="float-exp-beyond-year-9999"),
        pytest.param(jwt.encode(claims(exp="2099-01-01"), SECRET, "HS256"), id="string-exp"),
        pytest.param(jwt.encode(claims(exp=True), SECRET, "HS256"), id="boolean-exp"),
        pytest.param(jwt.encode(claims(nbf=-1), SECRET, "HS256"), id="negative-nbf"),
        pytest.param(jwt.encode(claims(pad="x" * 9000), SECRET, "HS256"), id="over-8-KiB"),
        pytest.param(jwt.encode(claims(), SECRET, "HS256") + "\t", id="tab"),
        pytest.param(jwt.encode(claims(), SECRET, "HS256") + "\u00e9", id="latin-1-e-acute"),
    ],
)
def test_tokens_out_of_bounds_are_unauthenticated_not_an_error(token: str) -> None:
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(token)


def test_a_token_with_infinite_exp_is_unauthenticated() -> None:
    body = base64.urlsafe_b64encode(b'{"sub":"alice","aud":"depot","exp":1e400}').rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(f"eyJhbGciOiJIUzI1NiJ9.{body}.c2ln")


# Service tokens ---------------------------------------------------------------------------------

SERVICE_SECRET = "a-service-secret-that-only-the-services-know-0123456789"


def service_verifier() -> TokenVerifier:
    return TokenVerifier(Settings(jwt_secret=SECRET, service_secret=SERVICE_SECRET), service_tokens=True)


def service_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "act": {"sub": "exports"}, "aud": INTERNAL_AUDIENCE, "iat": now, "exp": now + 60}
    return {**base, **overrides}


def test_a_minted_service_token_acts_for_its_user_with_the_recorded_role() -> None:
    settings = Settings(jwt_secret=SECRET, service_secret=SERVICE_SECRET)
    tokens = ServiceTokens(settings, actor="exports")
    plain = service_verifier().verify(tokens.mint(user_id="alice", admin=False))
    admin = service_verifier().verify(tokens.mint(user_id="root", admin=True))
    assert (plain.user_id, plain.actor, plain.is_admin, plain.admin_export) == (
        "alice",
        "exports",
        False,
        False,
    )
    assert (admin.user_id, admin.actor, admin.is_admin, admin.admin_export) == ("root", "exports", True, True)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            jwt.encode(service_claims(), "another-key-of-enough-length-0123456789", "HS256"), id="wrong-key"
        ),
        pytest.param(jwt.encode(service_claims(), SECRET, "HS256"), id="user-secret-with-act"),
        pytest.param(
            jwt.encode(service_claims(aud="depot"), SECRET, "HS256"), id="user-secret-user-audience-with-act"
        ),
        pytest.param(
            jwt.encode(service_claims(exp=int(time.time()) - 120), SERVICE_SECRET, "HS256"), id="expired"
        ),
        pytest.param(
            jwt.encode(service_claims(exp=int(time.time()) + 86400), SERVICE_SECRET, "HS256"),
            id="lives-a-day",
        ),
        pytest.param(jwt.encode(service_claims(aud="depot"), SERVICE_SECRET, "HS256"), id="user-audience"),
        pytest.param(
            jwt.encode(service_claims(act={"sub": "mallory"}), SERVICE_SECRET, "HS256"), id="unknown-actor"
        ),
        pytest.param(jwt.encode(service_claims(act="exports"), SERVICE_SECRET, "HS256"), id="act-not-object"),
        pytest.param(jwt.encode(service_claims(), SERVICE_SECRET, "HS384"), id="hs384"),
        pytest.param(
            jwt.encode({k: v for k, v in service_claims().items() if k != "act"}, SERVICE_SECRET, "HS256"),
            id="service-key-without-act",
        ),
    ],
)
def test_forged_service_tokens_are_unauthenticated(token: str) -> None:
    with pytest.raises(Unauthenticated):
        service_verifier().verify(token)


def test_the_gateway_verifier_refuses_service_tokens() -> None:
    settings = Settings(jwt_secret=SECRET, service_secret=SERVICE_SECRET)
    token = ServiceTokens(settings, actor="exports").mint(user_id="alice", admin=True)
    with pytest.raises(Unauthenticated, match="only between"):
        TokenVerifier(settings).verify(token)


@pytest.mark.parametrize(
    ("secret", "message"),
    [("", "set DEPOT_SERVICE_SECRET"), ("short", "at least"), (SECRET, "differ from DEPOT_JWT_SECRET")],
)
def test_services_refuse_a_missing_short_or_shared_service_secret(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(Settings(jwt_secret=SECRET, service_secret=secret), service_tokens=True)
