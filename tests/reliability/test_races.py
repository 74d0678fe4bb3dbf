"""Races: many clients doing the same first-time thing at once must leave exactly one result.

- 50 concurrent first-time downloads of one export: one row, one stored blob, one sha256 for all.
- 50 concurrent PUTs of one chat file name: one row, exactly one 201, no 5xx.
- A create retried after a client-side deadline with the same request_id: no duplicate.
- 50 concurrent creates of a webhook (of an export schedule) with room for 3 under the per-user cap:
  exactly 3 made.

CI runs each once; `--long` repeats each 20 times.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import httpx
import pytest

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.reliability import db
from tests.reliability.conftest import Suite
from tests.support.system import System, User

CONCURRENCY = 50
T = TypeVar("T")


def repeats(long_run: bool) -> int:
    return 20 if long_run else 1


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs `work(i)` on `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        barrier.wait(timeout=60)
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def pooled(user: User) -> httpx.Client:
    limits = httpx.Limits(max_connections=CONCURRENCY + 5, max_keepalive_connections=CONCURRENCY + 5)
    return httpx.Client(base_url=user.system.url, headers=user.http.headers, timeout=120, limits=limits)


def test_concurrent_first_downloads_of_one_export_render_once(
    system: System, long_run: bool, suite: Suite
) -> None:
    for _ in range(repeats(long_run)):
        user = system.client()
        prompt = user.create_prompt(
            original_text=f"race {uuid.uuid4().hex}", versions=[{"text": "v", "source": "a"}]
        )
        path = f"/api/v1/prompts/{prompt['id']}/export/download"
        with pooled(user) as http:
            replies = all_at_once(CONCURRENCY, lambda _, path=path: http.get(path, params={"format": "json"}))
        statuses = sorted({r.status_code for r in replies})
        assert statuses == [200], (
            f"expected only 200, got {statuses}: {[r.text for r in replies if r.status_code != 200][:2]}"
        )
        digests = {hashlib.sha256(r.content).hexdigest() for r in replies}
        etags = {r.headers.get("etag", "").strip('"') for r in replies}
        assert len(digests) == 1 and etags == digests, f"downloads differ: {digests} / {etags}"
        rows = db.export_rows(system.database.url, user.id, f"prompts/{prompt['id']}")
        assert len(rows) == 1, f"expected 1 export row, got {rows}"
        assert rows[0][1] == "completed" and rows[0][2] in digests, rows
        assert len(db.blob_keys(system.database.url, [r[0] for r in rows])) == 1
        user.http.close()
    suite.trials(repeats(long_run))
    suite.figure("downloads/trial", CONCURRENCY)


def test_concurrent_puts_of_one_file_name_make_one_file(system: System, long_run: bool, suite: Suite) -> None:
    for _ in range(repeats(long_run)):
        user = system.client()
        path = "/api/v1/chats/race/files/same.txt"
        bodies = [f"body {i} {uuid.uuid4().hex}".encode() for i in range(CONCURRENCY)]
        with pooled(user) as http:
            replies = all_at_once(
                CONCURRENCY,
                lambda i, path=path, bodies=bodies: http.put(
                    path, content=bodies[i], headers={"Content-Type": "text/plain"}
                ),
            )
        statuses = [r.status_code for r in replies]
        assert all(s in (200, 201) for s in statuses), (
            f"unexpected statuses: {sorted(set(statuses))} {replies[0].text}"
        )
        assert statuses.count(201) == 1, f"expected exactly one 201, got {statuses.count(201)}"
        listed = user.http.get("/api/v1/chats/race/files").json()["items"]
        assert [f["filename"] for f in listed] == ["same.txt"], listed
        stored = user.http.get(path)
        assert stored.content in bodies and listed[0]["sha256"] == hashlib.sha256(stored.content).hexdigest()
        count = db.scalar(
            system.database.url,
            "SELECT count(*) FROM files.chat_files WHERE owner = %s",
            user.id,
        )
        assert count == 1, f"expected 1 file row, got {count}"
        user.http.close()
    suite.trials(repeats(long_run))
    suite.figure("puts/trial", CONCURRENCY)


# Per-user caps (services/exports/{webhooks,schedules}/settings.py, 50 each by default): routes and
# bodies that create one more of a kind, and the reason a create past the cap is refused with.
CAPPED = {
    "webhooks": (
        "/api/v1/webhooks",
        {"url": "https://52.216.8.1/hook", "events": ["prompt.created"]},
        412,
        "WEBHOOK_LIMIT",
    ),
    "export-schedules": (
        "/api/v1/export-schedules",
        {"source": "datasets/feedback", "format": "csv", "every": "daily", "mode": "incremental"},
        413,
        "TOO_MANY_SCHEDULES",
    ),
}
CAP = 50
ROOM = 3  # creates the cap still allows when the concurrent ones start


@pytest.mark.parametrize("kind", list(CAPPED))
def test_concurrent_creates_never_pass_a_per_user_cap(
    system: System, long_run: bool, suite: Suite, kind: str
) -> None:
    """Each create counts the user's rows and inserts when there is room, the count taken under the
    user's lock of that kind (tests/exports/test_owner_caps.py shows a second count waiting). The
    window between count and insert is short: without the lock, a 50 ms pause put in it let every
    one of the 50 creates through; with the lock, exactly the room left."""
    route, body, refused_status, reason = CAPPED[kind]
    for _ in range(repeats(long_run)):
        user = system.client()
        for _ in range(CAP - ROOM):
            reply = user.http.post(route, json=body)
            assert reply.status_code == 201, reply.text
        with pooled(user) as http:
            replies = all_at_once(CONCURRENCY, lambda _, http=http: http.post(route, json=body))
        statuses = sorted(r.status_code for r in replies)
        assert statuses == [201] * ROOM + [refused_status] * (CONCURRENCY - ROOM), statuses
        refused = [r.json()["error"]["details"][0]["reason"] for r in replies if r.status_code != 201]
        assert set(refused) == {reason}, refused
        listed = user.http.get(route, params={"page_size": 100}).json()["items"]
        assert len(listed) == CAP, len(listed)
        user.http.close()
    suite.trials(repeats(long_run))
    suite.figure(f"{kind} creates at the cap/trial", CONCURRENCY)


def big_create(request_id: str) -> pb.CreatePromptRequest:
    """Large enough that a 1 ms deadline expires on the client while the server still works on it."""
    # Under the gateway's 1 MiB body limit, so that the same create can be retried over REST.
    versions = [pb.NewVersion(text=f"version {i} " + "x" * 15_000, source=f"agent{i % 3}") for i in range(60)]
    return pb.CreatePromptRequest(request_id=request_id, original_text="retry me", versions=versions)


def test_a_create_retried_after_a_client_deadline_is_not_duplicated(
    system: System, long_run: bool, suite: Suite
) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    expired = 0
    for _ in range(repeats(long_run)):
        user = system.client()
        request_id = f"retry-{uuid.uuid4().hex}"
        try:
            stub.CreatePrompt(big_create(request_id), metadata=user.metadata, timeout=0.001)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED, exc
            expired += 1
        first = stub.CreatePrompt(big_create(request_id), metadata=user.metadata, timeout=30)
        again = _rest_retry(user, request_id)
        assert again["id"] == first.prompt.id and len(again["versions"]) == 60, again
        listed = stub.ListPrompts(
            pb.ListPromptsRequest(page_size=1000), metadata=user.metadata, timeout=30
        ).prompts
        assert [p.request_id for p in listed] == [request_id], f"expected one prompt, got {len(listed)}"
        count = db.scalar(
            system.database.url, "SELECT count(*) FROM prompts.prompts WHERE owner = %s", user.id
        )
        assert count == 1, count
        user.http.close()
    suite.trials(repeats(long_run))
    suite.figure("deadline expired first", f"{expired}/{repeats(long_run)}")


def _rest_retry(user: User, request_id: str) -> Any:
    """The same create through the gateway: a timed-out attempt, then a retry answered 200 (the
    same key with another body would be 409: tests/prompts/test_request_id_reuse.py)."""
    create = big_create(request_id)
    body = {
        "request_id": request_id,
        "original_text": create.original_text,
        "versions": [{"text": v.text, "source": v.source} for v in create.versions],
    }
    with contextlib.suppress(httpx.TimeoutException):
        user.http.post("/api/v1/prompts", json=body, timeout=0.001)
    reply = user.http.post("/api/v1/prompts", json=body)
    assert reply.status_code == 200, f"a repeated request_id must answer 200, got {reply.status_code}"
    return reply.json()


@pytest.fixture(autouse=True)
def _no_stack_exits(system: System) -> None:
    assert not system.stack.exited(), f"processes exited: {system.stack.exited()}"
