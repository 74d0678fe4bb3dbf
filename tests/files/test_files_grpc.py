"""The files service called directly over gRPC: status codes straight from the service, and the RPCs the
exports service reads chats and artifacts with (revisions, a chat streamed in one snapshot)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from depot.files.v1 import files_pb2 as pb
from depot.files.v1 import files_pb2_grpc
from tests.files.support import file_url, put, stored
from tests.support.system import System, User


@pytest.fixture
def stub(system: System) -> Iterator[files_pb2_grpc.FilesServiceStub]:
    with system.channel("files") as channel:
        yield files_pb2_grpc.FilesServiceStub(channel)


def _reason(error: grpc.RpcError) -> str:
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            info = error_details_pb2.ErrorInfo()
            status_pb2.Status.FromString(value).details[0].Unpack(info)
            return info.reason
    return ""


def _upload(header: pb.UploadFileHeader, *chunks: bytes) -> Iterator[pb.UploadFileRequest]:
    yield pb.UploadFileRequest(header=header)
    for chunk in chunks:
        yield pb.UploadFileRequest(chunk=chunk)


def test_calls_without_a_token_are_unauthenticated(stub: files_pb2_grpc.FilesServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListFiles(pb.ListFilesRequest(chat_id="c1"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetFile(
            pb.GetFileRequest(chat_id="c1", filename="a"), metadata=(("authorization", "Bearer forged"),)
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_status_codes_come_straight_from_the_service(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    cases = [
        (
            lambda: stub.GetFile(pb.GetFileRequest(chat_id="c1", filename="nope"), metadata=alice.metadata),
            grpc.StatusCode.NOT_FOUND,
            "FILE_NOT_FOUND",
        ),
        (
            lambda: stub.GetFile(pb.GetFileRequest(chat_id="c1", filename="../x"), metadata=alice.metadata),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FILENAME_HAS_SEPARATOR",
        ),
        (
            lambda: stub.ListFiles(pb.ListFilesRequest(chat_id="", page_size=1), metadata=alice.metadata),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_CHAT_ID",
        ),
        (
            lambda: stub.ListFiles(pb.ListFilesRequest(chat_id="c1", page_size=-1), metadata=alice.metadata),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
        ),
        (
            lambda: stub.GetChatRevision(
                pb.GetChatRevisionRequest(chat_id="unknown"), metadata=alice.metadata
            ),
            grpc.StatusCode.NOT_FOUND,
            "CHAT_NOT_FOUND",
        ),
        (
            lambda: stub.GetArtifact(pb.GetArtifactRequest(id="x"), metadata=alice.metadata),
            grpc.StatusCode.NOT_FOUND,
            "ARTIFACT_NOT_FOUND",
        ),
    ]
    for call, code, why in cases:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert (caught.value.code(), _reason(caught.value)) == (code, why)


def test_upload_must_start_with_its_header(stub: files_pb2_grpc.FilesServiceStub, alice: User) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.UploadFile(iter([pb.UploadFileRequest(chunk=b"x")]), metadata=alice.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_announced_size_over_the_limit_is_refused_before_any_byte(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    header = pb.UploadFileHeader(chat_id="c1", filename="big.bin", expected_size_bytes=25 * 1024 * 1024 + 1)
    with pytest.raises(grpc.RpcError) as caught:
        stub.UploadFile(_upload(header, b"x"), metadata=alice.metadata)
    assert (caught.value.code(), _reason(caught.value)) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "FILE_TOO_LARGE",
    )


def test_upload_shorter_than_announced_stores_nothing(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    header = pb.UploadFileHeader(chat_id="c1", filename="cut.bin", expected_size_bytes=10)
    with pytest.raises(grpc.RpcError) as caught:
        stub.UploadFile(_upload(header, b"12345"), metadata=alice.metadata)
    assert (caught.value.code(), _reason(caught.value)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UPLOAD_TRUNCATED",
    )
    assert stub.ListFiles(pb.ListFilesRequest(chat_id="c1"), metadata=alice.metadata).files == []


def test_upload_and_download_over_grpc(stub: files_pb2_grpc.FilesServiceStub, alice: User) -> None:
    header = pb.UploadFileHeader(chat_id="c1", filename="g.txt", description="d", metadata_json='{"k": 1}')
    reply = stub.UploadFile(_upload(header, b"hello ", b"world"), metadata=alice.metadata)
    assert (reply.created, reply.file.size_bytes, reply.file.metadata_json) == (True, 11, '{"k": 1}')
    parts = list(
        stub.DownloadFile(
            pb.DownloadFileRequest(chat_id="c1", filename="g.txt", range_start=6), metadata=alice.metadata
        )
    )
    assert parts[0].header.file.sha256 == reply.file.sha256
    assert (parts[0].header.offset, parts[0].header.length, parts[0].header.partial) == (6, 5, True)
    assert b"".join(p.chunk for p in parts[1:]) == b"world"


def test_chat_revision_changes_on_every_write_and_never_repeats(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    def revision() -> int:
        return stub.GetChatRevision(
            pb.GetChatRevisionRequest(chat_id="rev"), metadata=alice.metadata
        ).revision

    seen = []
    etag = put(alice, "rev", "a.txt", b"one").headers["etag"]
    seen.append(revision())
    put(alice, "rev", "a.txt", b"two")
    seen.append(revision())
    alice.http.patch(file_url("rev", "a.txt"), json={"description": "d"})
    seen.append(revision())
    alice.http.post(file_url("rev", "a.txt") + ":replace", json={"old": "two", "new": "three"})
    seen.append(revision())
    alice.http.post("/api/v1/chats/rev/artifacts", json={"title": "t", "columns": ["a"], "rows": [[1]]})
    seen.append(revision())
    assert revision() == seen[-1], "reads do not change the revision"
    assert alice.http.delete(file_url("rev", "a.txt"), headers={"If-Match": etag}).status_code == 412
    assert revision() == seen[-1], "a refused write does not change the revision"
    alice.http.delete(file_url("rev", "a.txt"))
    seen.append(revision())
    counts = stub.GetChatRevision(pb.GetChatRevisionRequest(chat_id="rev"), metadata=alice.metadata)
    assert (counts.file_count, counts.artifact_count) == (0, 1)
    assert alice.http.delete("/api/v1/chats/rev").status_code == 204
    with pytest.raises(grpc.RpcError):
        revision()
    put(alice, "rev", "a.txt", b"one")
    seen.append(revision())
    assert seen == sorted(set(seen)), seen


def test_stream_chat_files_sends_every_file_of_one_snapshot(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    contents = {"b.bin": bytes(range(256)) * 2000, "a.txt": b"alpha", "empty": b""}
    for name, content in contents.items():
        stored(alice, "zip", name, content)
    messages = list(stub.StreamChatFiles(pb.StreamChatFilesRequest(chat_id="zip"), metadata=alice.metadata))
    header = messages[0].header
    revision = stub.GetChatRevision(
        pb.GetChatRevisionRequest(chat_id="zip"), metadata=alice.metadata
    ).revision
    assert (header.chat_id, header.revision, header.file_count) == ("zip", revision, 3)
    received: dict[str, bytes] = {}
    for message in messages[1:]:
        if message.WhichOneof("part") == "file":
            current = message.file.filename
            received[current] = b""
        else:
            received[current] += message.chunk
    assert list(received) == ["a.txt", "b.bin", "empty"]
    assert received == contents


def test_get_artifact_carries_its_revision(stub: files_pb2_grpc.FilesServiceStub, alice: User) -> None:
    created = alice.http.post(
        "/api/v1/chats/c1/artifacts", json={"title": "t", "columns": ["a", "b"], "rows": [["x", 1.5]]}
    ).json()
    artifact = stub.GetArtifact(pb.GetArtifactRequest(id=created["id"]), metadata=alice.metadata).artifact
    assert artifact.revision == created["revision"] > 0
    assert [c.WhichOneof("kind") for c in artifact.rows[0].cells] == ["string_value", "double_value"]


def test_artifact_over_4_mib_is_resource_exhausted(
    stub: files_pb2_grpc.FilesServiceStub, alice: User
) -> None:
    rows = [pb.Row(cells=[pb.Cell(string_value="x" * 32_768)]) for _ in range(130)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateArtifact(
            pb.CreateArtifactRequest(chat_id="c1", title="t", columns=["a"], rows=rows),
            metadata=alice.metadata,
        )
    assert (caught.value.code(), _reason(caught.value)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_LARGE")
