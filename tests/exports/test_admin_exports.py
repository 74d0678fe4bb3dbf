"""DESIGN rule 4: a token with role admin may export across users. The export is the admin's (owner),
its receipt names whose data it holds (data_owner); everyone else still gets 404 for others' data,
and an admin calling in person (not through an export) still sees only their own."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator

import grpc
import pytest

from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.settings import Settings
from tests.exports.conftest import content, create_session, error_code, export, export_ok, needs_files
from tests.support.system import System, User


@pytest.fixture
def admin(system: System) -> Iterator[User]:
    user = system.client(admin=True)
    yield user
    user.http.close()


def test_an_admin_exports_another_users_prompt_as_their_own_export(admin: User, alice: User) -> None:
    session = create_session(alice)
    body = export_ok(admin, f"prompts/{session.id}", "markdown")
    assert body["receipt"]["data_owner"] == alice.id, body["receipt"]
    assert session.marker in content(admin, body["id"]).text
    assert_the_admins(body["id"], admin, alice)


def assert_the_admins(export_id: str, admin: User, data_owner: User) -> None:
    """The export is the admin's: in the admin's list, and not the data owner's to see."""
    assert export_id in {e["id"] for e in admin.http.get("/api/v1/exports").json()["items"]}
    assert data_owner.http.get(f"/api/v1/exports/{export_id}").status_code == 404


def test_an_own_export_names_its_owner_as_the_data_owner(alice: User) -> None:
    session = create_session(alice)
    assert export_ok(alice, f"prompts/{session.id}", "json")["receipt"]["data_owner"] == alice.id


def test_another_non_admin_user_still_gets_404_for_a_prompt_export(alice: User, bob: User) -> None:
    session = create_session(alice)
    reply = export(bob, f"prompts/{session.id}", "markdown")
    assert reply.status_code == 404, reply.text
    assert error_code(reply) == "NOT_FOUND"


def test_an_admin_in_person_still_reads_only_their_own_prompts(admin: User, alice: User) -> None:
    session = create_session(alice)
    reply = admin.http.get(f"/api/v1/prompts/{session.id}")
    assert reply.status_code == 404, f"expected 404 (only exports cross users), got {reply.status_code}"


def test_the_seed_000_download_route_serves_an_admin_another_users_session(admin: User, alice: User) -> None:
    session = create_session(alice)
    reply = admin.http.get(f"/api/v1/prompts/{session.id}/export/download", params={"format": "markdown"})
    assert reply.status_code == 200, reply.text
    assert session.marker in reply.text


def _artifact(user: User, chat: str, marker: str, rows: int = 3) -> str:
    reply = user.http.post(
        f"/api/v1/chats/{chat}/artifacts",
        json={
            "title": f"Table {marker}",
            "columns": ["n", "label"],
            "rows": [[i, marker] for i in range(rows)],
        },
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


@needs_files
def test_an_admin_exports_another_users_artifact_and_others_get_404(
    admin: User, alice: User, bob: User
) -> None:
    marker = f"Art{uuid.uuid4().hex[:8]}"
    artifact = _artifact(alice, "c1", marker)
    body = export_ok(admin, f"artifacts/{artifact}", "csv")
    assert body["receipt"]["data_owner"] == alice.id
    assert_the_admins(body["id"], admin, alice)
    assert marker in content(admin, body["id"]).text
    assert export(bob, f"artifacts/{artifact}", "csv").status_code == 404


@needs_files
def test_an_admin_job_of_another_users_large_artifact_completes(
    system: System, admin: User, alice: User
) -> None:
    """Over the queue threshold the export is a job: the worker reads in the admin's scope too."""
    marker = f"Big{uuid.uuid4().hex[:8]}"
    artifact = _artifact(alice, "big", marker, rows=1500)
    accepted = export(admin, f"artifacts/{artifact}", "csv")
    assert accepted.status_code == 202, accepted.text
    body = export_ok(admin, f"artifacts/{artifact}", "csv")
    assert (body["receipt"]["data_owner"], body["receipt"]["row_count"]) == (alice.id, 1500)
    assert_the_admins(body["id"], admin, alice)


@needs_files
def test_an_admin_names_another_users_chat_with_the_owner_option(admin: User, alice: User, bob: User) -> None:
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    stored = alice.http.put(f"/api/v1/chats/{chat}/files/notes.txt", content=b"alice's notes")
    assert stored.status_code == 201, stored.text
    body = export_ok(admin, f"chats/{chat}", "zip", owner=alice.id)
    assert body["receipt"]["data_owner"] == alice.id
    assert_the_admins(body["id"], admin, alice)
    with zipfile.ZipFile(io.BytesIO(content(admin, body["id"]).content)) as archive:
        assert archive.read("notes.txt") == b"alice's notes"
    # Without the option an admin's chat id names the admin's own chat, which does not exist.
    assert export(admin, f"chats/{chat}", "zip").status_code == 404
    refused = export(bob, f"chats/{chat}", "zip", owner=alice.id)
    assert refused.status_code == 403, refused.text
    assert error_code(refused) == "PERMISSION_DENIED"
    # Naming oneself is the same as not naming anyone.
    assert export(alice, f"chats/{chat}", "zip", owner=alice.id).status_code in (200, 201)


def test_the_owner_option_is_only_for_chats(admin: User, alice: User) -> None:
    session = create_session(alice)
    reply = export(admin, f"prompts/{session.id}", "json", owner=alice.id)
    assert reply.status_code == 400, reply.text


def test_only_a_service_acting_for_an_admin_reads_across_users_over_grpc(system: System, alice: User) -> None:
    session = create_session(alice)
    settings = Settings(jwt_secret=system.secret, service_secret=system.stack.env["DEPOT_SERVICE_SECRET"])
    tokens = ServiceTokens(settings, actor="exports")
    prompts = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))

    def read(token: str) -> prompts_pb2.GetPromptResponse:
        return prompts.GetPrompt(
            prompts_pb2.GetPromptRequest(id=session.id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )

    assert read(tokens.mint(user_id="some-admin", admin=True)).prompt.owner == alice.id
    for name, token in {
        "service acting for a non-admin": tokens.mint(user_id="someone-else", admin=False),
        "admin in person": system.token("some-admin", admin=True),
    }.items():
        with pytest.raises(grpc.RpcError) as caught:
            read(token)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, f"{name}: got {caught.value.code()}"
