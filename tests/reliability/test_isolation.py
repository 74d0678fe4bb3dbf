"""Isolation matrix: every resource × every verb × both transports, by another user and by an admin.

Each cross-user call must be 404 / NOT_FOUND, and no byte of the owner's data (every text of theirs
carries a marker) may appear in any response, list or export the other user gets. Identity comes from
the verified token only: identity headers sent to the gateway and forged metadata sent straight to a
service change nothing.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2

from depot.exports.v1 import exports_pb2 as epb
from depot.exports.v1 import exports_pb2_grpc
from depot.files.v1 import files_pb2 as fpb
from depot.files.v1 import files_pb2_grpc
from depot.prompts.v1 import prompts_pb2 as ppb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.reliability.conftest import Suite
from tests.reliability.world import World, build_world, scores
from tests.support.system import System, User

# Headers a confused gateway or service might take an identity from.
IDENTITY_HEADERS = ("x-user-id", "x-depot-user", "x-forwarded-user", "x-auth-request-user", "x-remote-user")


@pytest.fixture(scope="module")
def world(system: System) -> Iterator[World]:
    owner = system.client()
    yield build_world(owner)
    owner.http.close()


def rest_cross_user_calls(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    """Every REST verb on each of the owner's resources, as (method, path, request kwargs)."""
    prompt, file = f"/api/v1/prompts/{w.prompt_id}", f"/api/v1/chats/{w.chat_id}/files/{w.filename}"
    export = f"/api/v1/exports/{w.export_id}"
    return [
        ("GET", prompt, {}),
        ("POST", f"{prompt}/versions", {"json": {"text": "intruder", "source": "x"}}),
        ("PUT", f"{prompt}/versions/1/score", {"json": scores(10)}),
        ("PUT", f"{prompt}/versions/2/score", {"json": scores(0)}),
        ("DELETE", prompt, {}),
        ("POST", "/api/v1/feedback", {"json": _feedback(w)}),
        ("POST", "/prompts/feedback", {"json": _feedback(w)}),
        ("GET", f"/api/v1/prompts/{w.prompt_id}/exports", {}),
        ("GET", f"/api/v1/prompts/{w.prompt_id}/export/download", {"params": {"format": "json"}}),
        ("POST", "/api/v1/exports", {"json": {"source": f"prompts/{w.prompt_id}", "format": "json"}}),
        ("GET", file, {}),
        ("PATCH", file, {"json": {"description": "intruder"}}),
        ("POST", f"{file}:replace", {"json": {"old": "file", "new": "owned"}}),
        ("DELETE", file, {}),
        ("GET", f"/api/chat-files/{w.chat_id}/download/{w.filename}", {}),
        ("DELETE", f"/api/chat-files/{w.chat_id}/{w.filename}", {}),
        ("GET", f"/api/v1/artifacts/{w.artifact_id}", {}),
        ("POST", "/api/v1/exports", {"json": {"source": f"artifacts/{w.artifact_id}", "format": "csv"}}),
        ("POST", "/api/artifacts/export", {"json": {"artifactId": w.artifact_id, "format": "csv"}}),
        ("GET", export, {}),
        ("GET", f"{export}/content", {}),
        ("POST", f"{export}/links", {"json": {"expires_in": 60}}),
        ("DELETE", export, {}),
    ]


def rest_own_views(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    """Lists, aggregates and exports of the caller's own data: 2xx, and none of the owner's bytes."""
    return [
        ("GET", "/api/v1/prompts", {"params": {"page_size": 1000}}),
        ("GET", "/api/v1/prompts", {"params": {"q": w.marker}}),
        ("GET", "/api/v1/feedback", {}),
        ("GET", "/api/v1/security-scans", {}),
        ("GET", "/api/v1/agents/effectiveness", {"params": {"basis": "scores"}}),
        ("GET", "/api/v1/agents/effectiveness", {"params": {"basis": "feedback"}}),
        ("GET", "/api/agents/effectiveness", {}),
        ("GET", "/api/storage/agent-effectiveness", {}),
        ("GET", f"/api/v1/chats/{w.chat_id}/files", {}),
        ("GET", f"/api/chat-files/{w.chat_id}", {}),
        ("GET", f"/api/v1/chats/{w.chat_id}/artifacts", {}),
        ("GET", "/api/v1/exports", {}),
        ("POST", "/api/v1/exports", {"json": {"source": "datasets/all", "format": "json"}}),
        ("POST", "/api/v1/exports", {"json": {"source": "datasets/temporal", "format": "csv"}}),
        ("POST", "/api/v1/exports", {"json": {"source": f"chats/{w.chat_id}", "format": "zip"}}),
        ("POST", "/api/storage/export-all", {}),
    ]


def is_rest_export(method: str, path: str) -> bool:
    """A call that renders a source: an admin may export any user's data (DESIGN.md, data rule 4)."""
    return (method, path) in {("POST", "/api/v1/exports"), ("POST", "/api/artifacts/export")} or (
        path.endswith("/export/download")
    )


def assert_admin_export(admin: User, w: World, reply: httpx.Response, call: str) -> None:
    """An admin's export of another user's source holds that data and is recorded as the admin's."""
    assert reply.status_code < 300, f"{call}: an admin may export across users, got {reply.status_code}"
    returned = everything_returned(admin, reply)
    if "artifactId" in reply.text:  # seed 004 answers a share link to the bytes
        returned += admin.http.get(reply.json()["url"]).content
    assert w.marker.encode() in returned, f"{call}: the export lacks the data"


def _feedback(w: World) -> dict[str, str]:
    return {"request_id": w.request_id, "user_choice": "single", "judge_winner": "x", "agent_winner": "x"}


def everything_returned(user: User, reply: httpx.Response) -> bytes:
    """The reply's bytes and, when it names an export or a download URL, the bytes behind it (unzipped)."""
    seen = reply.content
    body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else None
    if isinstance(body, dict) and reply.status_code < 300:
        export_id = body.get("export_id") or (body.get("id") if "source" in body else None)
        if export_id:
            finished(user, export_id)
            content = user.http.get(f"/api/v1/exports/{export_id}/content").content
            seen += content + _unzipped(content)
    return seen


def finished(user: User, export_id: str, seconds: float = 120) -> dict[str, Any]:
    """The export once its job has ended (a queued export answers 202 first)."""
    deadline = time.monotonic() + seconds
    while True:
        body: dict[str, Any] = user.http.get(f"/api/v1/exports/{export_id}").json()
        if body.get("status") in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def _unzipped(content: bytes) -> bytes:
    if not content.startswith(b"PK"):
        return b""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def assert_owner_untouched(w: World) -> None:
    owner = w.owner.http
    prompt = owner.get(f"/api/v1/prompts/{w.prompt_id}").json()
    assert [v["text"] for v in prompt["versions"]] == [f"First {w.marker}", f"Second {w.marker}"], prompt
    assert prompt["best_version_no"] == 2, prompt
    file = owner.get(f"/api/v1/chats/{w.chat_id}/files/{w.filename}")
    assert file.status_code == 200 and file.content == f"file {w.marker}".encode(), file.text
    assert owner.get(f"/api/v1/exports/{w.export_id}").status_code == 200
    assert owner.get(f"/api/v1/artifacts/{w.artifact_id}").status_code == 200
    feedback = owner.get("/api/v1/feedback").json()["items"]
    assert [f["agent_winner"] for f in feedback] == [w.agent], feedback


@pytest.mark.parametrize("who", ["other", "admin", "other with identity headers"])
def test_rest_cross_user_calls_are_not_found_and_leak_nothing(
    system: System, world: World, who: str, suite: Suite
) -> None:
    caller = system.client(admin=who == "admin")
    if who.endswith("identity headers"):
        caller.http.headers.update({h: world.owner.id for h in IDENTITY_HEADERS})
    calls = rest_cross_user_calls(world)
    for method, path, kwargs in calls:
        reply = caller.http.request(method, path, **kwargs)
        if who == "admin" and is_rest_export(method, path):
            assert_admin_export(caller, world, reply, f"{method} {path}")
            continue
        assert reply.status_code == 404, (
            f"{method} {path}: expected 404, got {reply.status_code}: {reply.text}"
        )
        assert reply.json()["error"]["code"] == "NOT_FOUND", reply.text
        assert world.marker.encode() not in reply.content, f"{method} {path} leaked: {reply.text}"
    views = rest_own_views(world)
    for method, path, kwargs in views:
        reply = caller.http.request(method, path, **kwargs)
        assert reply.status_code < 300 or reply.status_code == 404, (
            f"{method} {path}: {reply.status_code} {reply.text}"
        )
        assert world.marker.encode() not in everything_returned(caller, reply), f"{method} {path} leaked"
        assert world.agent.encode() not in reply.content, f"{method} {path} leaked the owner's agent"
    # The owner's request_id is theirs only: the same key makes the caller a prompt of their own.
    mine = caller.create_prompt(request_id=world.request_id, original_text="caller's own")
    assert mine["id"] != world.prompt_id and world.marker not in str(mine)
    assert_owner_untouched(world)
    suite.trials(len(calls) + len(views) + 1)
    caller.http.close()


def test_an_identity_header_without_a_token_is_unauthenticated(system: System, world: World) -> None:
    with system.anonymous() as anonymous:
        for header in IDENTITY_HEADERS:
            reply = anonymous.get(f"/api/v1/prompts/{world.prompt_id}", headers={header: world.owner.id})
            assert reply.status_code == 401, f"{header}: {reply.status_code} {reply.text}"
            assert world.marker not in reply.text


def test_only_an_admin_exports_across_users(system: System, world: World, admin: User, bob: User) -> None:
    refused = bob.http.post(
        "/api/v1/exports",
        json={"source": "datasets/temporal", "format": "csv", "options": {"all_users": True}},
    )
    assert refused.status_code == 403, refused.text
    reply = admin.http.post(
        "/api/v1/exports",
        json={"source": "datasets/temporal", "format": "csv", "options": {"all_users": True}},
    )
    assert reply.status_code in (200, 201, 202), reply.text
    assert world.marker.encode() in everything_returned(admin, reply), (
        "the admin's all-users export lacks the data"
    )


def grpc_cross_user_calls(system: System, w: World) -> list[tuple[str, Callable[..., Any]]]:
    """Every gRPC method that names one of the owner's resources, straight to its service."""
    prompts = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    files = files_pb2_grpc.FilesServiceStub(system.channel("files"))
    exports = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    p, chat, name = w.prompt_id, w.chat_id, w.filename
    options = struct_pb2.Struct()
    return [
        ("GetPrompt", lambda md: prompts.GetPrompt(ppb.GetPromptRequest(id=p), metadata=md, timeout=10)),
        (
            "DeletePrompt",
            lambda md: prompts.DeletePrompt(ppb.DeletePromptRequest(id=p), metadata=md, timeout=10),
        ),
        (
            "AppendVersion",
            lambda md: prompts.AppendVersion(
                ppb.AppendVersionRequest(prompt_id=p, version=ppb.NewVersion(text="x", source="x")),
                metadata=md,
                timeout=10,
            ),
        ),
        (
            "SetScores",
            lambda md: prompts.SetScores(
                ppb.SetScoresRequest(prompt_id=p, version_no=1, scores=ppb.Scores(**scores(10))),
                metadata=md,
                timeout=10,
            ),
        ),
        (
            "SubmitFeedback",
            lambda md: prompts.SubmitFeedback(
                ppb.SubmitFeedbackRequest(
                    request_id=w.request_id,
                    user_choice=ppb.USER_CHOICE_SINGLE,
                    judge_winner="x",
                    agent_winner="x",
                ),
                metadata=md,
                timeout=10,
            ),
        ),
        (
            "GetFile",
            lambda md: files.GetFile(
                fpb.GetFileRequest(chat_id=chat, filename=name), metadata=md, timeout=10
            ),
        ),
        (
            "DownloadFile",
            lambda md: list(
                files.DownloadFile(
                    fpb.DownloadFileRequest(chat_id=chat, filename=name), metadata=md, timeout=10
                )
            ),
        ),
        (
            "UpdateFile",
            lambda md: files.UpdateFile(
                fpb.UpdateFileRequest(chat_id=chat, filename=name, description="x"), metadata=md, timeout=10
            ),
        ),
        (
            "ReplaceInFile",
            lambda md: files.ReplaceInFile(
                fpb.ReplaceInFileRequest(chat_id=chat, filename=name, old_text="file", new_text="x"),
                metadata=md,
                timeout=10,
            ),
        ),
        (
            "DeleteFile",
            lambda md: files.DeleteFile(
                fpb.DeleteFileRequest(chat_id=chat, filename=name), metadata=md, timeout=10
            ),
        ),
        (
            "StreamChatFiles",
            lambda md: list(
                files.StreamChatFiles(fpb.StreamChatFilesRequest(chat_id=chat), metadata=md, timeout=10)
            ),
        ),
        (
            "GetArtifact",
            lambda md: files.GetArtifact(fpb.GetArtifactRequest(id=w.artifact_id), metadata=md, timeout=10),
        ),
        (
            "GetExport",
            lambda md: exports.GetExport(epb.GetExportRequest(id=w.export_id), metadata=md, timeout=10),
        ),
        (
            "ReadExportContent",
            lambda md: list(
                exports.ReadExportContent(
                    epb.ReadExportContentRequest(id=w.export_id), metadata=md, timeout=10
                )
            ),
        ),
        (
            "CreateShareLink",
            lambda md: exports.CreateShareLink(
                epb.CreateShareLinkRequest(export_id=w.export_id), metadata=md, timeout=10
            ),
        ),
        (
            "CreateExport prompts",
            lambda md: exports.CreateExport(
                epb.CreateExportRequest(source=f"prompts/{p}", format="json", options=options),
                metadata=md,
                timeout=30,
            ),
        ),
        (
            "CreateExport artifacts",
            lambda md: exports.CreateExport(
                epb.CreateExportRequest(source=f"artifacts/{w.artifact_id}", format="csv", options=options),
                metadata=md,
                timeout=30,
            ),
        ),
        (
            "DeleteExport",
            lambda md: exports.DeleteExport(epb.DeleteExportRequest(id=w.export_id), metadata=md, timeout=10),
        ),
    ]


def grpc_own_views(system: System, w: World) -> list[tuple[str, Callable[..., Any]]]:
    prompts = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    files = files_pb2_grpc.FilesServiceStub(system.channel("files"))
    exports = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    return [
        (
            "ListPrompts",
            lambda md: prompts.ListPrompts(ppb.ListPromptsRequest(page_size=1000), metadata=md, timeout=10),
        ),
        ("ListFeedback", lambda md: prompts.ListFeedback(ppb.ListFeedbackRequest(), metadata=md, timeout=10)),
        (
            "ListSecurityScans",
            lambda md: prompts.ListSecurityScans(ppb.ListSecurityScansRequest(), metadata=md, timeout=10),
        ),
        (
            "StreamDatasetRows",
            lambda md: list(
                prompts.StreamDatasetRows(
                    ppb.StreamDatasetRowsRequest(dataset=ppb.DATASET_TEMPORAL), metadata=md, timeout=10
                )
            ),
        ),
        (
            "ListFiles",
            lambda md: files.ListFiles(fpb.ListFilesRequest(chat_id=w.chat_id), metadata=md, timeout=10),
        ),
        (
            "ListArtifacts",
            lambda md: files.ListArtifacts(
                fpb.ListArtifactsRequest(chat_id=w.chat_id), metadata=md, timeout=10
            ),
        ),
        ("ListExports", lambda md: exports.ListExports(epb.ListExportsRequest(), metadata=md, timeout=10)),
    ]


@pytest.mark.parametrize("who", ["other", "admin"])
def test_grpc_cross_user_calls_are_not_found_even_with_forged_metadata(
    system: System, world: World, who: str, suite: Suite
) -> None:
    caller = system.client(admin=who == "admin")
    forged = (*caller.metadata, *((h, world.owner.id) for h in IDENTITY_HEADERS), ("x-roles", "admin"))
    calls = grpc_cross_user_calls(system, world)
    for name, call in calls:
        if who == "admin" and name.startswith("CreateExport"):
            export = call(forged).export
            assert export.owner == caller.id and export.receipt.data_owner == world.owner.id, export
            continue
        with pytest.raises(grpc.RpcError) as caught:
            call(forged)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, (
            f"{name}: {caught.value.code()} {caught.value.details()}"
        )
        assert world.marker not in (caught.value.details() or ""), f"{name} leaked"
    views = grpc_own_views(system, world)
    for name, call in views:
        reply = call(forged)
        assert world.marker.encode() not in _serialized(reply), f"{name} leaked the owner's data"
    # The same chat and file name are the caller's own: an upload creates a file of theirs.
    files = files_pb2_grpc.FilesServiceStub(system.channel("files"))
    header = fpb.UploadFileHeader(chat_id=world.chat_id, filename=world.filename, if_none_match=True)
    upload = [fpb.UploadFileRequest(header=header), fpb.UploadFileRequest(chunk=b"the caller's own")]
    assert files.UploadFile(iter(upload), metadata=forged, timeout=10).created
    assert_owner_untouched(world)
    suite.trials(len(calls) + len(views) + 1)
    caller.http.close()


def test_forged_metadata_without_a_token_is_unauthenticated(system: System, world: World) -> None:
    forged = tuple((h, world.owner.id) for h in IDENTITY_HEADERS)
    for name, call in [*grpc_cross_user_calls(system, world), *grpc_own_views(system, world)]:
        with pytest.raises(grpc.RpcError) as caught:
            call(forged)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, f"{name}: {caught.value.code()}"


def _serialized(reply: Any) -> bytes:
    messages = reply if isinstance(reply, list) else [reply]
    return b"".join(m.SerializeToString() for m in messages)
