"""Statuses that tell the client what happened, not what gRPC ran into (issue 13, item 10).

An error never echoes unbounded input into the trailers (which would overflow them and turn a
404 into a 429), a body over the limit is 413 however it is sent, the artifact route takes the
4 MiB artifact the files service documents, and gRPC's own resource limits are never a 429.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from gateway.errors import from_grpc
from services.common.errors import MAX_MESSAGE_BYTES
from tests.support.system import System, User

LONG = "x" * 8_000


def test_a_very_long_prompt_id_is_404_with_a_bounded_message(alice: User) -> None:
    reply = alice.http.get(f"/api/v1/prompts/{LONG}")
    assert reply.status_code == 404, reply.text[:300]
    assert reply.json()["error"]["code"] == "NOT_FOUND"
    assert len(reply.content) < 2 * MAX_MESSAGE_BYTES


@pytest.mark.parametrize("text", [LONG, "😀" * 8_000, "\u0085\u2028" * 4_000])
def test_grpc_errors_carry_bounded_messages(system: System, alice: User, text: str) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetPrompt(prompts_pb2.GetPromptRequest(id=text), metadata=alice.metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    assert len((caught.value.details() or "").encode()) <= MAX_MESSAGE_BYTES


def test_an_option_name_of_ten_thousand_characters_is_400(alice: User) -> None:
    reply = alice.http.post(
        "/api/v1/exports",
        json={"source": "datasets/temporal", "format": "csv", "options": {"o" * 10_000: True}},
    )
    assert reply.status_code == 400, reply.text[:300]
    assert len(reply.content) < 2 * MAX_MESSAGE_BYTES


def test_an_option_name_of_ten_thousand_characters_is_invalid_over_grpc(system: System, alice: User) -> None:
    stub = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    request = exports_pb2.CreateExportRequest(source="datasets/temporal", format="csv")
    request.options.update({"o" * 10_000: True})
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateExport(request, metadata=alice.metadata, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON body of `total` bytes sent without a Content-Length (chunked)."""
    yield b'{"original_text": "'
    sent = 19
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413_as_with_a_content_length(alice: User) -> None:
    chunked = alice.http.post(
        "/api/v1/prompts", content=chunks(2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413, chunked.text[:300]
    assert chunked.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    declared = alice.http.post("/api/v1/prompts", json={"original_text": "x" * (2 * 1024 * 1024)})
    assert declared.status_code == 413
    assert alice.http.get("/api/v1/prompts").json()["items"] == []


def test_a_chunked_body_within_the_limit_is_accepted(alice: User) -> None:
    reply = alice.http.post(
        "/api/v1/prompts", content=chunks(90_000, size=10_000), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 201, reply.text[:300]


def test_a_four_mib_artifact_can_be_created_over_rest(alice: User) -> None:
    # 1,000 rows of 10 cells of 400 characters: 4,060,000 bytes as the files service counts them.
    columns = [f"c{i}" for i in range(10)]
    rows = [["y" * 400 for _ in columns] for _ in range(1_000)]
    created = alice.http.post(
        "/api/v1/chats/big/artifacts", json={"title": "big", "columns": columns, "rows": rows}
    )
    assert created.status_code == 201, created.text[:300]
    read = alice.http.get(f"/api/v1/artifacts/{created.json()['id']}")
    assert read.status_code == 200 and read.json()["rows"] == rows


def aio_error(code: grpc.StatusCode, message: str, reason: str | None = None) -> grpc.aio.AioRpcError:
    trailers: Any = ()
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="depot"))
        status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
        trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers or grpc.aio.Metadata(), details=message)


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (None, 413),  # gRPC's own: "Sent message larger than max (9600720 vs. 8388608)"
        ("FILE_TOO_LARGE", 413),
        ("QUOTA_EXCEEDED", 413),
        ("RESOURCE_EXHAUSTED", 413),
        ("RATE_LIMITED", 429),
    ],
)
def test_resource_exhausted_is_429_only_for_a_rate_limit(reason: str | None, status: int) -> None:
    error = from_grpc(
        aio_error(
            grpc.StatusCode.RESOURCE_EXHAUSTED, "Sent message larger than max (9600720 vs. 8388608)", reason
        )
    )
    assert error.status == status
    if reason is None:
        assert "Sent message" not in error.message  # gRPC's words are logged, not shown
