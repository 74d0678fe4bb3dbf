"""A request_id is an idempotency key: the same body again returns the stored prompt, another body
is refused (409) instead of silently answered with the old prompt."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System, User

SCORES = {"clarity": 5, "specificity": 6, "actionability": 7, "structure": 8, "context_use": 9}


def body(request_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "agent_type": "analyst",
        "original_text": "Summarise this report",
        "versions": [
            {"text": "v1", "source": "syntax", "explanation": {"why": ["shorter"], "n": 1}, "scores": SCORES},
            {"text": "v2", "source": "domain", "parent_version_no": 1},
        ],
        **changes,
    }


def test_the_same_body_again_returns_the_stored_prompt_with_200(alice: User) -> None:
    first = alice.http.post("/api/v1/prompts", json=body("same-1"))
    # Key order and 7 versus 7.0 do not make another body.
    again_body = body("same-1")
    again_body["versions"][0] = {
        "scores": {k: float(v) for k, v in SCORES.items()},
        "explanation": {"n": 1.0, "why": ["shorter"]},
        "source": "syntax",
        "text": "v1",
    }
    again = alice.http.post("/api/v1/prompts", json=again_body)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()


@pytest.mark.parametrize(
    "changes",
    [
        {"original_text": "Summarise another report"},
        {"agent_type": "writer"},
        {"versions": []},
        {"versions": [{"text": "v1 changed", "source": "syntax"}]},
        {"versions": [{"text": "v1", "source": "syntax", "scores": {**SCORES, "clarity": 4}}]},
    ],
    ids=["original_text", "agent_type", "no_versions", "version_text", "scores"],
)
def test_the_same_request_id_with_another_body_is_409_naming_the_key(
    alice: User, changes: dict[str, Any]
) -> None:
    first = alice.http.post("/api/v1/prompts", json=body("reused-1"))
    assert first.status_code == 201, first.text
    reused = alice.http.post("/api/v1/prompts", json=body("reused-1", **changes))
    assert reused.status_code == 409, f"expected 409, got {reused.status_code}: {reused.text}"
    error = reused.json()["error"]
    assert error["code"] == "ALREADY_EXISTS"
    assert "'reused-1'" in error["message"] and first.json()["id"] in error["message"], error["message"]
    assert error["details"][0]["reason"] == "REQUEST_ID_REUSED"
    listed = alice.http.get("/api/v1/prompts").json()["items"]
    assert [p["id"] for p in listed] == [first.json()["id"]], "nothing else was stored"
    assert alice.http.get(f"/api/v1/prompts/{first.json()['id']}").json() == first.json()


def test_a_retry_after_later_writes_still_returns_the_prompt(alice: User) -> None:
    """The key names the create request, not the prompt's current state."""
    created = alice.http.post("/api/v1/prompts", json=body("retry-1")).json()
    appended = alice.http.post(
        f"/api/v1/prompts/{created['id']}/versions", json={"text": "v3", "source": "s"}
    )
    assert appended.status_code == 201, appended.text
    again = alice.http.post("/api/v1/prompts", json=body("retry-1"))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == created["id"] and again.json()["version_count"] == 3


def test_concurrent_creates_with_one_key_make_one_prompt(alice: User, system: System) -> None:
    clients = [system.client(alice.id) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            replies = list(pool.map(lambda c: c.http.post("/api/v1/prompts", json=body("race-1")), clients))
    finally:
        for client in clients:
            client.http.close()
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201], [r.text for r in replies]
    assert len({r.json()["id"] for r in replies}) == 1


def test_concurrent_creates_with_one_key_and_two_bodies_keep_one_and_refuse_the_other(
    alice: User, system: System
) -> None:
    clients = [system.client(alice.id) for _ in range(8)]
    bodies = [body("race-2", original_text=f"text {i % 2}") for i in range(8)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            replies = list(
                pool.map(
                    lambda pair: pair[0].http.post("/api/v1/prompts", json=pair[1]),
                    zip(clients, bodies, strict=True),
                )
            )
    finally:
        for client in clients:
            client.http.close()
    winner = next(r.json() for r in replies if r.status_code == 201)
    for sent, reply in zip(bodies, replies, strict=True):
        same = sent["original_text"] == winner["original_text"]
        assert reply.status_code in ((200, 201) if same else (409,)), reply.text
    assert [p["id"] for p in alice.http.get("/api/v1/prompts").json()["items"]] == [winner["id"]]


def test_grpc_create_with_a_reused_key_and_another_body_is_already_exists(
    alice: User, system: System
) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    request = pb.CreatePromptRequest(
        request_id="grpc-1",
        original_text="first",
        versions=[pb.NewVersion(text="v1", source="syntax", scores=pb.Scores(**SCORES))],
    )
    first = stub.CreatePrompt(request, metadata=alice.metadata, timeout=10)
    again = stub.CreatePrompt(request, metadata=alice.metadata, timeout=10)
    assert (first.created, again.created) == (True, False)
    assert again.prompt.id == first.prompt.id
    request.original_text = "second"
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(request, metadata=alice.metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "'grpc-1'" in (caught.value.details() or "")
