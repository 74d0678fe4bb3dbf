"""Helpers of the exports tests: data built through the public API, exports requested and read
through the gateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cli.stack import available_services
from tests.support.s3 import S3Server, running_s3_server
from tests.support.system import User

SCORES = ("clarity", "specificity", "actionability", "structure", "context_use")


def scores(each: float) -> dict[str, float]:
    return dict.fromkeys(SCORES, each)


@dataclass
class Session:
    """A prompt session whose texts carry a unique marker, so a test can find them in any format."""

    prompt: dict[str, Any]
    marker: str
    request_id: str

    @property
    def id(self) -> str:
        return str(self.prompt["id"])


def create_session(user: User, *, marker: str | None = None, feedback: bool = True) -> Session:
    """A prompt with three agents' versions (the structure one is best) and, optionally, feedback."""
    marker = marker or f"Marker{uuid.uuid4().hex[:10]}"
    request_id = f"req-{marker}"
    prompt = user.create_prompt(
        request_id=request_id,
        agent_type="sales assistant",
        original_text=f"Original {marker}: write a pitch",
        versions=[
            {"text": f"Syntax {marker}", "source": "syntax", "scores": scores(6)},
            {
                "text": f"Structure {marker}",
                "source": "structure",
                "parent_version_no": 1,
                "scores": scores(9),
            },
            {"text": f"Domain {marker}", "source": "domain", "parent_version_no": 1, "scores": scores(7)},
        ],
    )
    if feedback:
        reply = user.http.post(
            "/api/v1/feedback",
            json={
                "request_id": request_id,
                "user_choice": "multi",
                "judge_winner": "structure",
                "agent_winner": "structure",
            },
        )
        assert reply.status_code in (200, 201), reply.text
    return Session(prompt, marker, request_id)


def export(user: User, source: str, fmt: str, **options: Any) -> httpx.Response:
    return user.http.post("/api/v1/exports", json={"source": source, "format": fmt, "options": options})


def export_ok(user: User, source: str, fmt: str, **options: Any) -> dict[str, Any]:
    """A completed export: rendered in the request (201), reused (200), or queued (202) and followed."""
    reply = export(user, source, fmt, **options)
    assert reply.status_code in (200, 201, 202), (
        f"expected 200/201/202, got {reply.status_code}: {reply.text}"
    )
    body: dict[str, Any] = follow(user, reply) if reply.status_code == 202 else reply.json()
    assert body["status"] == "completed", body
    return body


def follow(user: User, accepted: httpx.Response, *, deadline_seconds: float = 120) -> dict[str, Any]:
    """The export behind a 202, once it has ended: its Location, polled with `?wait=`."""
    body = accepted.json()
    location = accepted.headers["location"]
    assert location == f"/api/v1/exports/{body['id']}", accepted.headers
    deadline = time.monotonic() + deadline_seconds
    while body["status"] in ("queued", "processing"):
        assert time.monotonic() < deadline, f"the job did not end in {deadline_seconds} s: {body}"
        reply = user.http.get(location, params={"wait": 10})
        assert reply.status_code == 200, reply.text
        body = reply.json()
    return body  # type: ignore[no-any-return]


def content(user: User, export_id: str) -> httpx.Response:
    reply = user.http.get(f"/api/v1/exports/{export_id}/content")
    assert reply.status_code == 200, f"expected 200, got {reply.status_code}: {reply.text[:500]}"
    return reply


def error_code(reply: httpx.Response) -> str:
    return str(reply.json()["error"]["code"])


def files_service_running() -> bool:
    return "files" in available_services()


needs_files = pytest.mark.skipif(
    not files_service_running(), reason="the files service (artifacts, chats) is not in this checkout yet"
)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real S3 server (SeaweedFS on 127.0.0.1) for every exports test that needs one."""
    with running_s3_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
