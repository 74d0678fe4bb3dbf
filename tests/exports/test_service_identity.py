"""Issue 12.5: the exports service reads sources as itself, acting for the export's owner. No bearer
token is stored with a job, a job outlives its caller's token, and the services accept a service
token only when it is signed with the service key, short-lived and addressed to them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import psycopg
import pytest

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from depot.files.v1 import files_pb2, files_pb2_grpc
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from services.common.auth import INTERNAL_AUDIENCE
from tests.exports.conftest import create_session, follow
from tests.support.system import System, free_port


@pytest.fixture(scope="module")
def paused_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A system whose exports process takes no jobs (an API-only replica), so a job waits in the
    queue until the test starts a process that does; no leeway, so a short token expires on time."""
    directory = Path(tmp_path_factory.mktemp("paused"))
    with System.on_own_database(
        directory, DEPOT_EXPORT_JOB_WORKER="false", DEPOT_JWT_LEEWAY_SECONDS="0"
    ) as system:
        yield system


def exports_schema_text(url: str) -> str:
    """Every row of every table of schema `exports`, as PostgreSQL prints it."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'exports'"
            )
        ]
        assert "exports" in tables, tables
        dumps = [
            row[0] or ""
            for name in tables
            for row in conn.execute(f'SELECT string_agg(t::text, chr(10)) FROM exports."{name}" t')
        ]
    return "\n".join(dumps)


def test_a_queued_job_stores_no_token_and_completes_after_its_callers_token_expired(
    paused_system: System,
) -> None:
    system = paused_system
    user = system.client()
    session = create_session(user)
    short = system.token(user.id, ttl_seconds=3)
    with httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {short}"}, timeout=60) as http:
        accepted = http.post("/api/v1/exports", json={"source": "datasets/temporal", "format": "csv"})
        assert accepted.status_code == 202, accepted.text
        stored = exports_schema_text(system.database.url)
        assert accepted.json()["id"] in stored, "the job row is there"
        assert "eyJ" not in stored and short not in stored, "a bearer token is stored in schema exports"
        deadline = time.monotonic() + 30
        while http.get("/api/v1/exports").status_code != 401:  # the caller's token has expired
            assert time.monotonic() < deadline, "the short token never expired"
            time.sleep(0.2)
    assert user.http.get(accepted.headers["location"]).json()["status"] == "queued"
    port = free_port()
    system.stack.start_process(
        "exports",
        key=f"exports-{port}",
        env={"DEPOT_EXPORTS_PORT": str(port), "DEPOT_EXPORT_JOB_WORKER": "true"},
    )
    system.stack.wait_serving(f"exports-{port}", deadline=time.monotonic() + 60, address=f"127.0.0.1:{port}")
    body = follow(user, accepted)
    assert body["status"] == "completed", body
    assert body["receipt"]["data_owner"] == user.id
    csv = user.http.get(f"/api/v1/exports/{body['id']}/content").text
    assert session.marker in csv
    after = exports_schema_text(system.database.url)
    assert "eyJ" not in after and short not in after
    assert '"rpc_acted_for"' in system.logs() or "rpc_acted_for" in system.logs()


def _service_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "act": {"sub": "exports"},
        "aud": INTERNAL_AUDIENCE,
        "iat": now,
        "exp": now + 120,
        "roles": ["admin"],
    }
    return {**claims, **overrides}


def _probes(system: System) -> dict[str, Any]:
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


def test_forged_service_tokens_are_refused_by_every_service(system: System) -> None:
    service_key = system.stack.env["DEPOT_SERVICE_SECRET"]
    now = int(time.time())
    forged = {
        "signed with a wrong key": jwt.encode(_service_claims(), "w" * 48, algorithm="HS256"),
        "user secret, carrying act": jwt.encode(_service_claims(), system.secret, algorithm="HS256"),
        "user secret, user audience, carrying act": jwt.encode(
            _service_claims(aud="depot"), system.secret, algorithm="HS256"
        ),
        "expired": jwt.encode(_service_claims(iat=now - 600, exp=now - 120), service_key, algorithm="HS256"),
        "valid for a day": jwt.encode(_service_claims(exp=now + 86400), service_key, algorithm="HS256"),
        "an unknown actor": jwt.encode(
            _service_claims(act={"sub": "mallory"}), service_key, algorithm="HS256"
        ),
    }
    for service, probe in _probes(system).items():
        for name, token in forged.items():
            with pytest.raises(grpc.RpcError) as caught:
                probe((("authorization", f"Bearer {token}"),))
            code = caught.value.code()
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{service}, {name}: got {code}"


def test_a_service_token_is_accepted_by_the_services_only_and_logged_with_its_actor(system: System) -> None:
    token = jwt.encode(
        _service_claims(sub="acted-for-user", roles=None), system.stack.env["DEPOT_SERVICE_SECRET"], "HS256"
    )
    for probe in _probes(system).values():
        probe((("authorization", f"Bearer {token}"),))
    with system.anonymous() as http:
        reply = http.get("/api/v1/prompts", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, f"the gateway took a service token: {reply.status_code}"
    acted = [
        line for line in system.logs().splitlines() if "rpc_acted_for" in line and "acted-for-user" in line
    ]
    assert acted and all("exports" in line for line in acted), acted[:3]
    assert token not in system.logs()
