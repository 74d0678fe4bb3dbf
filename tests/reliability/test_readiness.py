"""Readiness when a backend is out: the gateway stays ready while any backend answers, says which
is out, and only that backend's routes answer 503 (a partial outage stays partial). It leaves its
load balancer (503) only when no backend answers at all. The test runs a system of its own, since
it stops services."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import Suite
from tests.support.system import System, User

RECOVERY_SECONDS = 30.0


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[System]:
    with System.on_own_database(tmp_path) as system:
        yield system


def _until(user: User, path: str, status: int) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (reply := user.http.get(path)).status_code != status:
        assert time.monotonic() < deadline, f"{path} still answers {reply.status_code}: {reply.text}"
        time.sleep(0.2)


def test_a_files_outage_leaves_prompts_served_and_the_gateway_ready(outage: System, suite: Suite) -> None:
    user = outage.client()
    prompt = user.create_prompt()
    assert user.http.put("/api/v1/chats/c/files/a.txt", content=b"a").status_code == 201
    outage.kill(outage.stack.processes["files"].pid)

    ready = user.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "degraded",
        "services": {"prompts": "serving", "files": "unavailable", "exports": "serving"},
    }, ready.text
    assert user.http.get(f"/api/v1/prompts/{prompt['id']}").status_code == 200
    assert user.http.post("/api/v1/prompts", json={"original_text": "still writable"}).status_code == 201
    down = user.http.get("/api/v1/chats/c/files/a.txt")
    assert down.status_code == 503 and down.json()["error"]["code"] == "UNAVAILABLE", down.text
    assert user.http.get("/api/v1/chats/c/files").status_code == 503

    outage.stack.start_process("files")
    outage.stack.wait_serving("files", deadline=time.monotonic() + RECOVERY_SECONDS)
    _until(user, "/api/v1/chats/c/files/a.txt", 200)
    assert user.http.get("/readyz").json()["status"] == "ready"
    suite.trials(7)


def test_the_gateway_is_unready_only_when_no_backend_answers(outage: System) -> None:
    user = outage.client()
    for name in ("files", "exports"):
        outage.kill(outage.stack.processes[name].pid)
    assert user.http.get("/readyz").status_code == 200, "one backend left is enough to serve"
    outage.kill(outage.stack.processes["prompts"].pid)
    ready = user.http.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json() == {
        "status": "unavailable",
        "services": {"prompts": "unavailable", "files": "unavailable", "exports": "unavailable"},
    }
    assert user.http.get("/healthz").status_code == 200, "liveness does not depend on the backends"
