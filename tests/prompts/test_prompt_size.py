"""A prompt never grows past what one message can carry, so it stays readable and exportable, and one
user's large prompt never fails another user's export (issue 13, item 2)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.exports import readers
from tests.exports.conftest import content, export_ok
from tests.support.resources import run_beside_another_user
from tests.support.system import System, User

# Three eighths of DEPOT_MAX_MESSAGE_BYTES (8 MiB by default).
LIMIT = 3 * 1024 * 1024
VERSION_OVERHEAD = 128
MIB = 1024 * 1024
RSS_GROWTH_BOUND = 150 * MIB
OTHER_USER_LATENCY_BOUND_SECONDS = 2.0
EMOJI_TEXT = "😀" * 100_000  # 400,000 bytes of UTF-8, a request well under 1 MiB


def append(user: User, prompt_id: str, text: str, source: str = "syntax") -> Any:
    return user.http.post(f"/api/v1/prompts/{prompt_id}/versions", json={"text": text, "source": source})


def fill_to_the_limit(user: User, *, request_id: str) -> dict[str, Any]:
    """A prompt grown by appends of 100,000 emoji until the next one is refused (at most 24, the
    9.6 MB that made a prompt unreadable before the limit)."""
    prompt = user.create_prompt(request_id=request_id, original_text=f"Original {request_id}")
    for attempt in range(24):
        reply = append(user, prompt["id"], EMOJI_TEXT)
        if reply.status_code != 201:
            assert reply.status_code == 413, f"expected 201 or 413, got {reply.status_code}: {reply.text}"
            error = reply.json()["error"]
            assert error["code"] == "RESOURCE_EXHAUSTED" and f"{LIMIT:,}" in error["message"], error
            assert attempt >= 7, f"refused after {attempt} appends: the limit is lower than documented"
            return prompt
    raise AssertionError("24 appends of 400,000 bytes each (9.6 MB) were all accepted")


def stored_bytes(prompt: dict[str, Any]) -> int:
    return len(prompt["original_text"].encode()) + sum(
        VERSION_OVERHEAD + len(v["text"].encode()) + len(v["source"].encode()) for v in prompt["versions"]
    )


def test_growing_a_prompt_to_its_limit_costs_the_service_little_and_no_one_waits(
    system: System, alice: User, bob: User
) -> None:
    bobs = bob.create_prompt(original_text="bob's own")

    def cheap() -> None:
        assert bob.http.get(f"/api/v1/prompts/{bobs['id']}").status_code == 200

    def hostile() -> int:
        prompt = fill_to_the_limit(alice, request_id="big-cost")
        return alice.http.get(f"/api/v1/prompts/{prompt['id']}").status_code

    status, growth, worst = run_beside_another_user(system, "prompts", cheap, hostile)
    assert status == 200
    assert growth < RSS_GROWTH_BOUND, f"the prompts service grew by {growth / MIB:.0f} MiB"
    assert worst < OTHER_USER_LATENCY_BOUND_SECONDS, f"another user's request waited {worst:.2f} s"


def test_appends_stop_at_the_size_limit_and_the_prompt_stays_readable(alice: User) -> None:
    prompt = fill_to_the_limit(alice, request_id="big-1")
    reply = alice.http.get(f"/api/v1/prompts/{prompt['id']}")
    assert reply.status_code == 200, f"expected 200, got {reply.status_code}: {reply.text[:300]}"
    whole = reply.json()
    assert LIMIT - len(EMOJI_TEXT.encode()) < stored_bytes(whole) <= LIMIT
    assert append(alice, prompt["id"], "a small version still fits").status_code == 201
    body = export_ok(alice, f"prompts/{prompt['id']}", "json")
    document = readers.json_document(content(alice, str(body["id"])).content)
    assert EMOJI_TEXT in readers.text_of("json", content(alice, str(body["id"])).content)
    assert document["fields"]["original_text"] == "Original big-1"


def test_concurrent_appends_cannot_pass_the_limit_together(alice: User, system: System) -> None:
    prompt = alice.create_prompt(original_text="o")
    for _ in range(7):
        assert append(alice, prompt["id"], EMOJI_TEXT).status_code == 201
    clients = [system.client(alice.id) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            replies = list(pool.map(lambda c: append(c, prompt["id"], "b" * 50_000), clients))
    finally:
        for client in clients:
            client.http.close()
    codes = sorted(r.status_code for r in replies)
    assert set(codes) == {201, 413}, codes  # about 340 KB were left: some fit, not all eight
    whole = alice.http.get(f"/api/v1/prompts/{prompt['id']}").json()
    assert stored_bytes(whole) <= LIMIT
    assert whole["version_count"] == 7 + codes.count(201)


def test_a_create_over_the_limit_is_refused_and_stores_nothing(alice: User, system: System) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    request = pb.CreatePromptRequest(
        request_id="too-big", original_text="o", versions=[pb.NewVersion(text=EMOJI_TEXT, source="s")] * 8
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(request, metadata=alice.metadata, timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
    assert f"{LIMIT:,}" in (caught.value.details() or "")
    assert alice.http.get("/api/v1/prompts").json()["items"] == []


def test_an_explanation_counts_as_encoded(alice: User) -> None:
    """Numbers in a Struct take 9 bytes or more, against 2 or 3 in JSON: the encoded size is what
    a read must carry, so that is what counts."""
    prompt = alice.create_prompt(original_text="o")
    explanation = {"numbers": [0] * 12_000}  # at most 60 KB of JSON, 132 KB encoded
    accepted = 0
    while accepted < 60:
        reply = alice.http.post(
            f"/api/v1/prompts/{prompt['id']}/versions",
            json={"text": "t", "source": "s", "explanation": explanation},
        )
        if reply.status_code == 413:
            break
        assert reply.status_code == 201, reply.text
        accepted += 1
    assert 15 <= accepted < 35, f"{accepted} explanations of 132 KB encoded fitted in {LIMIT:,} bytes"
    assert alice.http.get(f"/api/v1/prompts/{prompt['id']}").status_code == 200


def test_a_prompt_at_its_limit_never_fails_an_export(alice: User, system: System) -> None:
    marker = f"big-{uuid.uuid4().hex[:8]}"
    prompt = fill_to_the_limit(alice, request_id=marker)
    # The owner's own exports of the prompt and of the datasets that hold its versions.
    export_ok(alice, f"prompts/{prompt['id']}", "xlsx")
    for fmt in ("json", "xlsx"):
        body = export_ok(alice, "datasets/temporal", fmt)
        assert body["receipt"]["row_count"] >= 5
    # Another user's export of every user's datasets, with this prompt among them.
    admin = system.client(admin=True)
    try:
        for fmt in ("json", "xlsx"):
            body = export_ok(admin, "datasets/all", fmt, all_users=True)
            data = content(admin, str(body["id"])).content
            assert marker in readers.text_of(fmt, data), (
                f"{marker} missing from every user's datasets as {fmt}"
            )
    finally:
        admin.http.close()
