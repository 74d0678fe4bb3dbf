"""Versions read by number or label (caching, as_of), restored, rendered and diffed, through the
gateway and over gRPC, on the real PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import struct_pb2

from depot.prompts.v1 import labels_pb2 as lpb
from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System, User


@pytest.fixture
def stub(system: System) -> prompts_pb2_grpc.PromptsServiceStub:
    return prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))


def make_prompt(user: User, *texts: str) -> str:
    versions = [{"text": t, "source": "syntax"} for t in texts]
    return str(user.create_prompt(versions=versions)["id"])


def test_a_version_by_number_is_immutable_with_a_strong_etag(alice: User) -> None:
    prompt_id = make_prompt(alice, "One.", "Two.")
    reply = alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/2")
    assert reply.status_code == 200, reply.text
    assert reply.json()["text"] == "Two." and "scores" not in reply.json()
    assert "immutable" in reply.headers["cache-control"] and "private" in reply.headers["cache-control"]
    etag = reply.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/2", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/3").status_code == 404


def test_a_version_by_label_carries_the_labels_revision_and_answers_304_until_it_moves(alice: User) -> None:
    prompt_id = make_prompt(alice, "One.", "Two.")
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 1})
    url = f"/api/v1/prompts/{prompt_id}/versions/production"
    first = alice.http.get(url)
    assert first.status_code == 200 and first.json()["version_no"] == 1
    assert first.json()["label"]["label"] == "production"
    assert "no-cache" in first.headers["cache-control"]
    etag = first.headers["etag"]
    assert alice.http.get(url, headers={"If-None-Match": etag}).status_code == 304
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 2})
    moved = alice.http.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.json()["version_no"] == 2 and moved.headers["etag"] != etag
    latest = alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/latest")
    assert latest.json()["version_no"] == 2
    assert alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/best").status_code == 404  # nothing scored


def test_as_of_answers_where_a_label_pointed_then(alice: User) -> None:
    prompt_id = make_prompt(alice, "One.", "Two.", "Three.")
    before = datetime.now(UTC)
    time.sleep(0.05)
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 1})
    at_one = datetime.now(UTC)
    time.sleep(0.05)
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 3})
    url = f"/api/v1/prompts/{prompt_id}/versions/production"
    assert alice.http.get(url, params={"as_of": at_one.isoformat()}).json()["version_no"] == 1
    assert alice.http.get(url, params={"as_of": datetime.now(UTC).isoformat()}).json()["version_no"] == 3
    assert alice.http.get(url, params={"as_of": before.isoformat()}).status_code == 404
    for bad in ("yesterday", "2026-01-02", "2026-01-02T03:04:05"):
        reply = alice.http.get(url, params={"as_of": bad})
        assert reply.status_code == 400, (bad, reply.text)


def test_restore_makes_a_new_version_with_the_old_text_config_and_a_parent_link(
    alice: User, stub: prompts_pb2_grpc.PromptsServiceStub
) -> None:
    prompt_id = make_prompt(alice, "Original words.")
    config = struct_pb2.Struct()
    config.update({"model": "gpt-x", "temperature": 0.2})
    appended = stub.AppendVersion(
        pb.AppendVersionRequest(
            prompt_id=prompt_id,
            version=pb.NewVersion(text="Edited words.", source="human", model_config=config),
        ),
        metadata=alice.metadata,
        timeout=5,
    )
    assert appended.version.model_config["model"] == "gpt-x"
    alice.http.post(f"/api/v1/prompts/{prompt_id}/versions", json={"text": "Third.", "source": "human"})
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/good", json={"version_no": 2})
    restored = alice.http.post(f"/api/v1/prompts/{prompt_id}/versions/good:restore")
    assert restored.status_code == 201, restored.text
    body = restored.json()
    assert (body["version_no"], body["parent_version_no"], body["text"]) == (4, 2, "Edited words.")
    assert body["model_config"] == {"model": "gpt-x", "temperature": 0.2}
    prompt = alice.http.get(f"/api/v1/prompts/{prompt_id}").json()
    assert prompt["version_count"] == 4 and prompt["revision"] == body["revision"]


def test_render_fills_variables_and_names_the_missing_and_unknown(alice: User) -> None:
    prompt_id = make_prompt(alice, "Hello {{ name }}, write about {{topic}} for {{ name }}. {{ not.a.var }}")
    url = f"/api/v1/prompts/{prompt_id}/versions/1:render"
    done = alice.http.post(url, json={"variables": {"name": "Ada", "topic": "{{name}}"}})
    assert done.status_code == 200, done.text
    assert done.json() == {
        "text": "Hello Ada, write about {{name}} for Ada. {{ not.a.var }}",
        "version_no": 1,
        "variables_used": ["name", "topic"],
    }
    refused = alice.http.post(url, json={"variables": {"name": "Ada", "tone": "dry"}})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "missing topic" in message and "unknown tone" in message
    assert alice.http.post(url, json={"variables": {"name": 3, "topic": "x"}}).status_code == 400


def test_diff_gives_line_and_word_changes_with_the_score_change(alice: User) -> None:
    scores = {"clarity": 5, "specificity": 5, "actionability": 5, "structure": 5, "context_use": 5}
    better = {**scores, "clarity": 8}
    prompt_id = str(
        alice.create_prompt(
            versions=[
                {"text": "Write a haiku about cats.\nBe brief.", "source": "syntax", "scores": scores},
                {"text": "Write a poem about dogs.\nBe brief.", "source": "multi", "scores": better},
            ]
        )["id"]
    )
    alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 1})
    reply = alice.http.get(f"/api/v1/prompts/{prompt_id}/diff", params={"from": "production", "to": "best"})
    assert reply.status_code == 200, reply.text
    diff = reply.json()
    assert (diff["from_version_no"], diff["to_version_no"], diff["score_change"]) == (1, 2, 3.0)
    assert "-Write a haiku about cats.\n+Write a poem about dogs.\n" in diff["unified"]
    assert [(c["op"], c["text"]) for c in diff["changes"]] == [
        ("equal", "Write a "),
        ("delete", "haiku"),
        ("insert", "poem"),
        ("equal", " about "),
        ("delete", "cats"),
        ("insert", "dogs"),
        ("equal", ".\nBe brief."),
    ]
    old = "".join(c["text"] for c in diff["changes"] if c["op"] != "insert")
    assert old == "Write a haiku about cats.\nBe brief."
    missing = alice.http.get(f"/api/v1/prompts/{prompt_id}/diff", params={"from": "1", "to": "nope"})
    assert missing.status_code == 404


def test_get_version_over_grpc_by_label_and_as_of(
    alice: User, stub: prompts_pb2_grpc.PromptsServiceStub
) -> None:
    prompt_id = make_prompt(alice, "One.", "Two.")
    stub.SetLabel(
        lpb.SetLabelRequest(prompt_id=prompt_id, label="production", version_no=2),
        metadata=alice.metadata,
        timeout=5,
    )
    reply = stub.GetVersion(
        lpb.GetVersionRequest(prompt_id=prompt_id, version=lpb.VersionRef(label="production")),
        metadata=alice.metadata,
        timeout=5,
    )
    assert (reply.version.version_no, reply.label.name, reply.label.version_no) == (2, "production", 2)
    past = lpb.GetVersionRequest(prompt_id=prompt_id, version=lpb.VersionRef(label="production"))
    past.as_of.FromDatetime(datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetVersion(past, metadata=alice.metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetVersion(lpb.GetVersionRequest(prompt_id=prompt_id), metadata=alice.metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    protect = lpb.SetLabelRequest(prompt_id=prompt_id, label="locked", version_no=1, protected=True)
    with pytest.raises(grpc.RpcError) as caught:
        stub.SetLabel(protect, metadata=alice.metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_model_config_is_stored_with_an_appended_version_and_bounded(alice: User) -> None:
    prompt_id = make_prompt(alice, "One.")
    config = {
        "model": "gpt-x",
        "temperature": 0.7,
        "response_format": {"type": "json_object"},
        "max_tokens": 512,
    }
    url = f"/api/v1/prompts/{prompt_id}/versions"
    assert (
        alice.http.post(url, json={"text": "Two.", "source": "human", "model_config": config}).status_code
        == 201
    )
    read = alice.http.get(f"{url}/2").json()
    assert read["model_config"] == config
    assert alice.http.get(f"{url}/1").json()["model_config"] is None
    too_large = {"notes": "x" * 20_000}
    refused = alice.http.post(url, json={"text": "Three.", "source": "human", "model_config": too_large})
    assert refused.status_code == 400, refused.text
    assert "model_config" in refused.json()["error"]["message"]
    at_create = alice.http.post(
        "/api/v1/prompts",
        json={"original_text": "x", "versions": [{"text": "a", "source": "b", "model_config": config}]},
    )
    assert at_create.status_code == 400
    diff = alice.http.get(f"/api/v1/prompts/{prompt_id}/diff", params={"from": "1", "to": "latest"}).json()
    assert '+  "model": "gpt-x",' in diff["model_config_unified"]
    assert diff["to_model_config"] == config and diff["from_model_config"] is None


def test_a_model_config_at_create_is_refused_over_grpc_not_dropped(
    alice: User, stub: prompts_pb2_grpc.PromptsServiceStub
) -> None:
    config = struct_pb2.Struct()
    config.update({"model": "gpt-x"})
    request = pb.CreatePromptRequest(
        original_text="x", versions=[pb.NewVersion(text="a", source="b", model_config=config)]
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(request, metadata=alice.metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "model_config" in (caught.value.details() or "")
