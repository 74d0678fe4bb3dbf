"""Token catalogue: every way a bad bearer token can be dressed up, against the gateway and each
service over gRPC. Each one is 401 / UNAUTHENTICATED, and no token ever appears in a log line.

The system here checks the issuer (DEPOT_JWT_ISSUER), so a wrong `iss` is one of the cases.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from depot.files.v1 import files_pb2, files_pb2_grpc
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from tests.reliability.conftest import Suite
from tests.support.system import System

ISSUER = "https://issuer.depot.test"
LEEWAY = 30  # DEPOT_JWT_LEEWAY_SECONDS' default


@pytest.fixture(scope="module")
def issuing_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("tokens"))
    with System.on_own_database(directory, DEPOT_JWT_ISSUER=ISSUER) as system:
        yield system


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hand_signed(claims: dict[str, Any], key: bytes, **header: Any) -> str:
    """An HS256 token signed by hand, with keys PyJWT refuses to use (a PEM public key, nothing)."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', **header})}.{_segment(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "aud": "depot",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
        "roles": ["admin"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens(secret: str) -> dict[str, str]:
    """Name → token; every one of them must be refused."""
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = attacker.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    now = int(time.time())
    good = jwt.encode(_claims(), secret, algorithm="HS256")
    head, body, signature = good.split(".")
    return {
        "alg none": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_claims())}.",
        "alg NONE with the real signature": f"{_segment({'alg': 'NONE', 'typ': 'JWT'})}.{body}.{signature}",
        "RS256 by an attacker's key": jwt.encode(_claims(), attacker, algorithm="RS256"),
        "HS256 keyed with a public key": hand_signed(_claims(), public_pem),
        "HS384 with the real secret": jwt.encode(_claims(), secret, algorithm="HS384"),
        "HS256 with a wrong secret": jwt.encode(_claims(), secret + "x", algorithm="HS256"),
        "expired beyond the leeway": jwt.encode(_claims(exp=now - LEEWAY - 60), secret, algorithm="HS256"),
        "nbf in the future": jwt.encode(_claims(nbf=now + LEEWAY + 120), secret, algorithm="HS256"),
        "no exp": jwt.encode(_claims(exp=None), secret, algorithm="HS256"),
        "no sub": jwt.encode(_claims(sub=None), secret, algorithm="HS256"),
        "empty sub": jwt.encode(_claims(sub=" "), secret, algorithm="HS256"),
        "numeric sub": jwt.encode(_claims(sub=12345), secret, algorithm="HS256"),
        "wrong aud": jwt.encode(_claims(aud="someone-else"), secret, algorithm="HS256"),
        "no aud": jwt.encode(_claims(aud=None), secret, algorithm="HS256"),
        "wrong iss": jwt.encode(_claims(iss="https://evil.test"), secret, algorithm="HS256"),
        "no iss": jwt.encode(_claims(iss=None), secret, algorithm="HS256"),
        "kid traversal, empty key": hand_signed(_claims(), b"", kid="../../../dev/null"),
        "kid injection": jwt.encode(_claims(), "x", algorithm="HS256", headers={"kid": "' OR '1'='1"}),
        "jku": jwt.encode(
            _claims(), secret, algorithm="HS256", headers={"jku": "http://127.0.0.1:9/jwks.json"}
        ),
        "x5u": jwt.encode(
            _claims(), secret, algorithm="HS256", headers={"x5u": "http://127.0.0.1:9/cert.pem"}
        ),
        "embedded jwk": jwt.encode(_claims(), attacker, algorithm="RS256", headers={"jwk": jwk}),
        "x5c": jwt.encode(_claims(), secret, algorithm="HS256", headers={"x5c": ["MIIB"]}),
        "tampered claims": f"{head}.{_segment(_claims(sub='victim'))}.{signature}",
        "signature stripped": f"{head}.{body}.",
        "two segments": f"{head}.{body}",
        "garbage": "not-a-jwt",
        "bad base64": "###.###.###",
        "header not JSON": f"{base64.urlsafe_b64encode(b'nope').decode()}.{body}.{signature}",
    }


MALFORMED_AUTHORIZATION = [
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Token abc",
    "bearer",
    "Bearer x y z",
    "Bearer ,",
    "",
]
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def grpc_probes(system: System) -> dict[str, Callable[[tuple[tuple[str, str], ...]], Any]]:
    prompts = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    files = files_pb2_grpc.FilesServiceStub(system.channel("files"))
    exports = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    return {
        "prompts": lambda md: prompts.ListPrompts(prompts_pb2.ListPromptsRequest(), metadata=md, timeout=10),
        "files": lambda md: files.ListFiles(
            files_pb2.ListFilesRequest(chat_id="c1"), metadata=md, timeout=10
        ),
        "exports": lambda md: exports.ListExports(exports_pb2.ListExportsRequest(), metadata=md, timeout=10),
    }


def assert_grpc_unauthenticated(
    probe: Callable[..., Any], metadata: tuple[tuple[str, str], ...], what: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        probe(metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, f"{what}: got {caught.value.code()}"


def test_every_bad_token_is_refused_by_the_gateway_and_every_service(
    issuing_system: System, suite: Suite
) -> None:
    system = issuing_system
    tokens = bad_tokens(system.secret)
    probes = grpc_probes(system)
    with system.anonymous() as http:
        for name, token in tokens.items():
            reply = http.get("/api/v1/prompts", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 401, f"{name}: expected 401, got {reply.status_code}: {reply.text}"
            assert reply.json()["error"]["code"] == "UNAUTHENTICATED", reply.text
            for service, probe in probes.items():
                assert_grpc_unauthenticated(
                    probe, (("authorization", f"Bearer {token}"),), f"{service}: {name}"
                )
    suite.trials(len(tokens) * (1 + len(probes)))
    suite.figure("bad tokens", len(tokens))
    logs = system.logs()
    for name, token in tokens.items():
        secret_part = token.rsplit(".", 1)[-1] if token.count(".") == 2 else token
        for piece in {token, secret_part} - {""}:
            if len(piece) >= 16:
                assert piece not in logs, f"the {name} token appears in a log line"


def test_a_good_token_passes_everywhere_and_never_reaches_the_logs(issuing_system: System) -> None:
    system = issuing_system
    token = jwt.encode(_claims(sub="good-user", roles=None), system.secret, algorithm="HS256")
    with system.anonymous() as http:
        reply = http.get("/api/v1/prompts", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200, reply.text
        assert http.get(
            "/api/v1/prompts/not-a-uuid", headers={"Authorization": f"Bearer {token}"}
        ).status_code in (
            400,
            404,
        )
    for _service, probe in grpc_probes(system).items():
        probe((("authorization", f"Bearer {token}"),))
    assert token not in system.logs() and token.rsplit(".", 1)[-1] not in system.logs()


def test_malformed_authorization_and_tokens_elsewhere_are_unauthenticated(issuing_system: System) -> None:
    system = issuing_system
    token = jwt.encode(_claims(sub="query-user"), system.secret, algorithm="HS256")
    probes = grpc_probes(system)
    with system.anonymous() as http:
        for value in MALFORMED_AUTHORIZATION:
            reply = http.get("/api/v1/prompts", headers={"Authorization": value})
            assert reply.status_code == 401, f"{value!r}: {reply.status_code} {reply.text}"
        for parameter in ("access_token", "token", "jwt", "authorization"):
            reply = http.get("/api/v1/prompts", params={parameter: token})
            assert reply.status_code == 401, f"?{parameter}=: {reply.status_code} {reply.text}"
        reply = http.get(
            "/api/v1/prompts", headers={"Cookie": f"access_token={token}; Authorization=Bearer {token}"}
        )
        assert reply.status_code == 401, f"cookie: {reply.status_code}"
        reply = http.get(
            "/api/v1/prompts", headers={"X-Access-Token": token, "X-Authorization": f"Bearer {token}"}
        )
        assert reply.status_code == 401, f"other header: {reply.status_code}"
    for service, probe in probes.items():
        for value in MALFORMED_AUTHORIZATION:
            assert_grpc_unauthenticated(probe, (("authorization", value),), f"{service}: {value!r}")
        for key in ("token", "x-access-token", "access_token"):
            assert_grpc_unauthenticated(probe, ((key, token),), f"{service}: metadata {key}")
        assert_grpc_unauthenticated(probe, (), f"{service}: no metadata")
    assert token not in system.logs()


def test_tokens_grpc_could_not_carry_or_that_overflow_are_401_not_500(issuing_system: System) -> None:
    """Issue 13.7, 13.9, 13.10: control bytes, non-ASCII, a 400-digit exp, 9 KB: each is 401 at the
    gateway (never 500 or 429) and UNAUTHENTICATED over gRPC where gRPC can carry it at all."""
    system = issuing_system
    good = jwt.encode(_claims(sub="bounded-user"), system.secret, algorithm="HS256")
    huge_exp = jwt.encode(_claims(sub="bounded-user", exp=10**400), system.secret, algorithm="HS256")
    oversized = jwt.encode(_claims(sub="bounded-user", pad="x" * 9000), system.secret, algorithm="HS256")
    headers: dict[str, bytes] = {
        "TAB inside the token": f"Bearer {good[:20]}\t{good[20:]}".encode(),
        "a 0xE9 byte": f"Bearer {good}".encode() + b"\xe9",
        "a 0xE9 byte inside": f"Bearer {good[:20]}".encode() + b"\xe9" + good[20:].encode(),
        "a validly signed 400-digit exp": f"Bearer {huge_exp}".encode(),
        "a validly signed 9 KB token": f"Bearer {oversized}".encode(),
    }
    with system.anonymous() as http:
        for name, value in headers.items():
            for _ in range(2):  # and the connection stays usable for the next request
                reply = http.get("/api/v1/prompts", headers={"Authorization": value})
                assert reply.status_code == 401, (
                    f"{name}: expected 401, got {reply.status_code}: {reply.text}"
                )
                assert reply.json()["error"]["code"] == "UNAUTHENTICATED", reply.text
    for service, probe in grpc_probes(system).items():
        for name, token in {"400-digit exp": huge_exp, "9 KB": oversized}.items():
            assert_grpc_unauthenticated(probe, (("authorization", f"Bearer {token}"),), f"{service}: {name}")


def _upload_head(system: System, authorization: str | None, size: int) -> bytes:
    lines = [
        "PUT /api/v1/chats/c1/files/big.bin HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/octet-stream",
        f"Content-Length: {size}",
    ]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_an_upload_without_a_valid_token_is_refused_before_its_body_is_sent(issuing_system: System) -> None:
    """Issue 12.6: the gateway answers 401 after the headers; the client has sent 64 KiB of a
    64 MiB body and waits, so an answer at all proves nobody waited for (or drained) the rest."""
    system = issuing_system
    port = int(system.url.rsplit(":", 1)[1])
    forged = jwt.encode(_claims(sub="uploader"), system.secret + "x", algorithm="HS256")
    expired = jwt.encode(
        _claims(sub="uploader", exp=int(time.time()) - 3600), system.secret, algorithm="HS256"
    )
    for name, authorization in {
        "no token": None,
        "forged": f"Bearer {forged}",
        "expired": f"Bearer {expired}",
    }.items():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(_upload_head(system, authorization, 64 * 1024 * 1024) + b"\0" * 65536)
            try:
                reply = sock.recv(4096)
            except TimeoutError:
                pytest.fail(f"{name}: no answer while the body was unsent: the upload went on")
        assert reply.startswith(b"HTTP/1.1 401"), f"{name}: {reply[:200]!r}"
