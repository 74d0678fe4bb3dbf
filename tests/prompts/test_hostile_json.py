"""Free-form JSON (explanations, export options, file metadata) is bounded the same way on every route.

Issue 13, items 5 and 8: deep nesting, NaN/Infinity, numbers no double holds and integers a double
would round are a 400 naming the path — over REST and over gRPC — never a 500 or silently changed
data; integers a client sent come back as integers.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from depot.files.v1 import files_pb2, files_pb2_grpc
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from tests.files.support import file_url, stored
from tests.support.system import User

JSON = {"Content-Type": "application/json"}
MAX_SAFE_INTEGER = 2**53


def nested(levels: int) -> str:
    """JSON text of `levels` nested objects: {"a":{"a":…1…}}."""
    return '{"a":' * levels + "1" + "}" * levels


def explanation_body(explanation: str) -> bytes:
    return f'{{"original_text": "x", "versions": [{{"text": "t", "source": "s", "explanation": {explanation}}}]}}'.encode()


def assert_400(reply: Any, *names: str) -> dict[str, Any]:
    assert reply.status_code == 400, f"expected 400, got {reply.status_code}: {reply.text[:500]}"
    error = reply.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT", error
    for name in names:
        assert name in error["message"], f"{name!r} not in {error['message']!r}"
    assert len(reply.content) < 4096, "the error echoes the input"
    return error  # type: ignore[no-any-return]


HOSTILE = {
    "40 levels": (nested(40), "levels"),
    "900 levels": (nested(900), "levels"),
    "100,000 levels": ("[" * 100_000 + "]" * 100_000, "levels"),
    "NaN": ('{"a": NaN}', ""),
    "Infinity": ('{"a": [Infinity]}', ""),
    "-Infinity": ('{"a": -Infinity}', ""),
    "1e400": ('{"a": {"b": 1e400}}', ""),
    "300-digit integer": ('{"a": ' + "9" * 300 + "}", "2^53"),
    "2^53 + 1": ('{"a": {"b": [0, 9007199254740993]}}', "a.b[1]"),
}


@pytest.mark.parametrize("explanation", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_explanations_are_400_and_write_nothing(alice: User, explanation: tuple[str, str]) -> None:
    text, named = explanation
    reply = alice.http.post("/api/v1/prompts", content=explanation_body(text), headers=JSON)
    assert_400(reply, named)
    assert alice.http.get("/api/v1/prompts").json()["items"] == []


@pytest.mark.parametrize("explanation", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_explanations_of_an_appended_version_are_400(
    alice: User, explanation: tuple[str, str]
) -> None:
    prompt = alice.create_prompt()
    body = f'{{"text": "t", "source": "s", "explanation": {explanation[0]}}}'.encode()
    assert_400(alice.http.post(f"/api/v1/prompts/{prompt['id']}/versions", content=body, headers=JSON))


def test_an_unsafe_integer_is_refused_by_the_path_it_is_at(alice: User) -> None:
    body = explanation_body('{"a": {"b": [0, 9007199254740993]}}')
    error = assert_400(alice.http.post("/api/v1/prompts", content=body, headers=JSON))
    assert "versions.0.explanation.a.b[1]" in error["message"], error


@pytest.mark.parametrize("options", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_export_options_are_400(alice: User, options: tuple[str, str]) -> None:
    body = f'{{"source": "datasets/temporal", "format": "csv", "options": {options[0]}}}'.encode()
    assert_400(alice.http.post("/api/v1/exports", content=body, headers=JSON))


@pytest.mark.parametrize(
    "metadata",
    ['{"a": NaN, "b": 1e400}', '{"a": Infinity}', '{"b": 1e400}', nested(900), '{"n": 9007199254740993}'],
)
def test_hostile_metadata_is_400_by_patch_as_by_put(alice: User, metadata: str) -> None:
    stored(alice, "c1", "m.txt", b"hello", params={"metadata": '{"kept": 1}'})
    patched = alice.http.patch(
        file_url("c1", "m.txt"), content=f'{{"metadata": {metadata}}}'.encode(), headers=JSON
    )
    assert_400(patched)
    put = alice.http.put(file_url("c1", "m.txt"), content=b"hello", params={"metadata": metadata})
    assert_400(put)
    listed = alice.http.get("/api/v1/chats/c1/files").json()["items"]
    assert [f["metadata"] for f in listed] == [{"kept": 1}]


def test_integers_in_an_explanation_come_back_as_integers(alice: User) -> None:
    explanation = {
        "small": 3,
        "largest": MAX_SAFE_INTEGER,
        "negative": -MAX_SAFE_INTEGER,
        "half": 2.5,
        "deep": [[7]],
    }
    prompt = alice.create_prompt(versions=[{"text": "t", "source": "s", "explanation": explanation}])
    for reply in (prompt, alice.http.get(f"/api/v1/prompts/{prompt['id']}").json()):
        raw = json.dumps(reply["versions"][0]["explanation"], sort_keys=True)
        assert raw == json.dumps(explanation, sort_keys=True), raw  # 3, not 3.0


def test_an_explanation_at_the_depth_limit_is_stored_and_exported(alice: User) -> None:
    explanation = json.loads(nested(32))
    prompt = alice.create_prompt(versions=[{"text": "t", "source": "s", "explanation": explanation}])
    assert (
        alice.http.get(f"/api/v1/prompts/{prompt['id']}").json()["versions"][0]["explanation"] == explanation
    )
    export = alice.http.post("/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "json"})
    assert export.status_code in (200, 201, 202), export.text


# Over gRPC the same bounds hold: a Struct can carry NaN and infinities, metadata is JSON text.


def deep_struct(levels: int) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(nested(levels)))
    return struct


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_grpc_explanations_with_numbers_json_cannot_hold_are_invalid(
    system: Any, alice: User, number: float
) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    version = prompts_pb2.NewVersion(text="t", source="s")
    version.explanation.update({"a": {"b": number}})
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(
            prompts_pb2.CreatePromptRequest(original_text="x", versions=[version]),
            metadata=alice.metadata,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert "explanation.a.b" in (caught.value.details() or "")


def test_grpc_explanations_deeper_than_the_limit_are_invalid(system: Any, alice: User) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    version = prompts_pb2.NewVersion(text="t", source="s", explanation=deep_struct(33))
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(
            prompts_pb2.CreatePromptRequest(original_text="x", versions=[version]),
            metadata=alice.metadata,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()


@pytest.mark.parametrize(
    "metadata", ['{"b": 1e400}', '{"n": 9007199254740993}', '{"n": ' + "9" * 300 + "}", '{"s": "\\ud800"}']
)
def test_grpc_metadata_json_cannot_hold_is_invalid(system: Any, alice: User, metadata: str) -> None:
    stored(alice, "c1", "m.txt", b"hello")
    stub = files_pb2_grpc.FilesServiceStub(system.channel("files"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateFile(
            files_pb2.UpdateFileRequest(chat_id="c1", filename="m.txt", metadata_json=metadata),
            metadata=alice.metadata,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_grpc_export_options_json_cannot_hold_are_invalid(system: Any, alice: User, number: float) -> None:
    stub = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    request = exports_pb2.CreateExportRequest(source="datasets/temporal", format="csv")
    request.options.update({"csv_mode": {"x": number}})
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateExport(request, metadata=alice.metadata, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()


def test_grpc_requests_nested_beyond_what_protobuf_parses_are_invalid_not_internal(
    system: Any, alice: User
) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    request = prompts_pb2.CreatePromptRequest(original_text="x")
    # Built in place, the client can serialise it; protobuf's parser on the server stops at ~100 levels.
    request.versions.add(text="t", source="s").explanation.update(json.loads(nested(40)))
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(request, metadata=alice.metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
