"""The prompts service straight over gRPC: statuses, identity only from the token, health and reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System, User


@pytest.fixture
def stub(system: System) -> prompts_pb2_grpc.PromptsServiceStub:
    return prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))


def test_calls_without_a_token_are_unauthenticated(stub: prompts_pb2_grpc.PromptsServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListPrompts(pb.ListPromptsRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_forged_identity_metadata_changes_nothing(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User, bob: User
) -> None:
    prompt = alice.create_prompt()
    forged = (*bob.metadata, ("x-user-id", alice.id), ("x-depot-user", alice.id))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetPrompt(pb.GetPromptRequest(id=prompt["id"]), metadata=forged, timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.ListPrompts(pb.ListPromptsRequest(), metadata=forged, timeout=5).prompts == []


def test_invalid_argument_carries_an_error_info_reason(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User
) -> None:
    from google.rpc import error_details_pb2, status_pb2

    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(pb.CreatePromptRequest(original_text=""), metadata=alice.metadata, timeout=5)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert (info.reason, info.metadata["field"]) == ("INVALID_ARGUMENT", "original_text")


def test_unspecified_enums_are_invalid(stub: prompts_pb2_grpc.PromptsServiceStub, alice: User) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetAgentEffectiveness(pb.GetAgentEffectivenessRequest(), metadata=alice.metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_and_reflection_need_no_token(system: System) -> None:
    channel = system.channel("prompts")
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "depot.prompts.v1.PromptsService" in names


def test_dataset_stream_has_a_header_then_the_callers_rows(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User, bob: User
) -> None:
    alice.create_prompt(request_id="ds", versions=[{"text": "alice text", "source": "syntax"}])
    bob.create_prompt(versions=[{"text": "bob secret", "source": "syntax"}])
    parts = list(
        stub.StreamDatasetRows(
            pb.StreamDatasetRowsRequest(dataset=pb.DATASET_TEMPORAL), metadata=alice.metadata, timeout=10
        )
    )
    header = parts[0].header
    assert list(header.columns)[:3] == ["prompt_id", "request_id", "version_no"]
    rows = [row for part in parts[1:] for row in part.rows.rows]
    texts = [row.cells[6].string_value for row in rows]
    assert texts == ["alice text"]


def test_every_users_dataset_needs_admin(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User, system: System
) -> None:
    request = pb.StreamDatasetCsvRequest(dataset=pb.DATASET_FEEDBACK, all_users=True)
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.StreamDatasetCsv(request, metadata=alice.metadata, timeout=10))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = system.client(admin=True)
    parts = list(stub.StreamDatasetCsv(request, metadata=admin.metadata, timeout=10))
    assert b"".join(p.chunk for p in parts[1:]).startswith(b"owner,request_id")


def test_csv_stream_neutralises_formulas_unless_raw(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User
) -> None:
    alice.create_prompt(request_id="=HYPERLINK(1)", versions=[{"text": "-2+3", "source": "@agent"}])
    safe = b"".join(
        p.chunk
        for p in stub.StreamDatasetCsv(
            pb.StreamDatasetCsvRequest(dataset=pb.DATASET_TEMPORAL), metadata=alice.metadata, timeout=10
        )
    )
    raw = b"".join(
        p.chunk
        for p in stub.StreamDatasetCsv(
            pb.StreamDatasetCsvRequest(dataset=pb.DATASET_TEMPORAL, csv_mode=pb.CSV_MODE_RAW),
            metadata=alice.metadata,
            timeout=10,
        )
    )
    assert b"'=HYPERLINK(1)" in safe and b"'-2+3" in safe and b"'@agent" in safe
    assert b",=HYPERLINK(1)," in raw and b"'-2+3" not in raw


def test_get_prompt_with_include_labels_answers_the_prompts_own_labels_in_the_same_call(
    stub: prompts_pb2_grpc.PromptsServiceStub, alice: User
) -> None:
    versions = [{"text": f"Version {n} of the text.", "source": "syntax"} for n in (1, 2, 3)]
    prompt_id = alice.create_prompt(versions=versions)["id"]
    for name, version_no in (("staging", 3), ("production", 2)):
        reply = alice.http.put(f"/api/v1/prompts/{prompt_id}/labels/{name}", json={"version_no": version_no})
        assert reply.status_code == 200, reply.text

    plain = stub.GetPrompt(pb.GetPromptRequest(id=prompt_id), metadata=alice.metadata, timeout=5)
    assert list(plain.labels) == [], "labels only when asked for"
    both = stub.GetPrompt(
        pb.GetPromptRequest(id=prompt_id, include_labels=True), metadata=alice.metadata, timeout=5
    )
    assert both.prompt == plain.prompt
    assert [(label.name, label.version_no, label.builtin) for label in both.labels] == [
        ("production", 2, False),
        ("staging", 3, False),
    ], "by name, without the built-ins"
    assert all(label.updated_by == alice.id and label.revision > 0 for label in both.labels)
