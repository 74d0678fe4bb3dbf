"""Erasure through the gateway on the shared system (postgres blob store): everything of the user
goes in every service, nothing of anyone else, and the record left behind names nobody."""

from __future__ import annotations

import uuid

import grpc
import pytest

from depot.exports.v1 import erasure_pb2 as epb
from depot.exports.v1 import erasure_pb2_grpc
from depot.files.v1 import erasure_pb2 as fpb
from depot.files.v1 import erasure_pb2_grpc as fgrpc
from depot.prompts.v1 import erasure_pb2 as ppb
from depot.prompts.v1 import erasure_pb2_grpc as pgrpc
from tests.erasure.world import assert_erased, assert_intact, erasure_record, follow, rows_of, seed, start
from tests.support.system import System, User


def test_erasing_an_account_removes_everything_of_it_and_nothing_of_anyone_else(
    system: System, alice: User, bob: User
) -> None:
    mine, theirs = seed(alice), seed(bob)
    before = rows_of(system, alice.id)
    assert {"prompts.labels.updated_by", "prompts.label_moves.moved_by", "exports.schedules.owner"} <= set(
        before
    )
    account = alice.http.get("/api/v1/account").json()
    assert account["user_id"] == alice.id
    counts = account["counts"]
    assert (counts["prompts"], counts["files"], counts["exports"], counts["share_links"]) == (3, 2, 3, 1), (
        counts
    )
    started = start(alice)
    done = follow(alice, started["id"])
    assert [s["service"] for s in done["steps"]] == ["prompts", "files", "exports"]
    assert all(s["done"] and s["completed_at"] for s in done["steps"]), done
    assert done["requested_by_admin"] is False and done["completed_at"]
    assert_erased(alice, mine)
    assert_intact(bob, theirs)
    assert alice.http.get("/api/v1/account").json()["counts"] == dict.fromkeys(counts, 0)
    record = erasure_record(system, done["id"])["json"]
    assert alice.id not in record, f"the completed record still names its user: {record}"


def test_erasing_twice_is_the_same_as_once(system: System, alice: User, bob: User) -> None:
    mine = seed(alice, prompts=1, files=1)
    first = follow(alice, start(alice)["id"])
    second = follow(alice, start(alice)["id"])
    assert second["id"] != first["id"], "a completed erasure names nobody: a new one is a new record"
    assert all(s["deleted_rows"] == 0 for s in second["steps"]), second
    assert_erased(alice, mine)


def test_a_completed_erasure_is_found_by_its_id_alone(alice: User, bob: User) -> None:
    seed(alice, prompts=1, files=1)
    done = follow(alice, start(alice)["id"])
    assert bob.http.get(f"/api/v1/account/erasures/{done['id']}").json()["status"] == "completed", (
        "a completed erasure names nobody: its id alone finds it"
    )


def test_an_admin_erases_any_user_and_others_get_403(system: System, alice: User, bob: User) -> None:
    mine = seed(alice, prompts=1, files=1)
    refused = bob.http.delete(f"/api/v1/users/{alice.id}")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
    assert bob.http.get("/api/v1/account").status_code == 200
    assert alice.http.get("/api/v1/prompts").json()["items"], "the refused erasure removed nothing"
    admin = system.client(admin=True)
    started = start(admin, f"/api/v1/users/{alice.id}")
    assert started["requested_by_admin"] is True
    follow(admin, started["id"])
    assert_erased(alice, mine)


def test_erasing_an_unknown_user_completes_with_nothing_removed(system: System) -> None:
    admin = system.client(admin=True)
    done = follow(admin, start(admin, f"/api/v1/users/nobody-{uuid.uuid4().hex}")["id"])
    assert [s["deleted_rows"] for s in done["steps"]] == [0, 0, 0], done


def test_bad_erasure_ids_and_user_ids_are_refused(system: System, alice: User) -> None:
    admin = system.client(admin=True)
    assert alice.http.get("/api/v1/account/erasures/not-an-id").status_code == 404
    assert alice.http.get(f"/api/v1/account/erasures/{uuid.uuid4()}").status_code == 404
    assert admin.http.delete(f"/api/v1/users/{'x' * 256}").status_code in (400, 404)
    assert admin.http.delete("/api/v1/users/%20").status_code == 400
    assert system.anonymous().delete("/api/v1/account").status_code == 401


@pytest.mark.parametrize("service", ["prompts", "files"])
def test_erase_user_takes_only_the_erasure_job_or_an_admin(system: System, alice: User, service: str) -> None:
    stub, messages = {
        "prompts": (pgrpc.PromptsErasureServiceStub, ppb),
        "files": (fgrpc.FilesErasureServiceStub, fpb),
    }[service]
    seed_rows = {
        "prompts": lambda: alice.create_prompt(),
        "files": lambda: alice.http.put("/api/v1/chats/c/files/a.txt", content=b"x"),
    }
    seed_rows[service]()
    with system.channel(service) as channel:
        erase = stub(channel).EraseUser
        with pytest.raises(grpc.RpcError) as refused:
            erase(messages.EraseUserRequest(user_id=alice.id), metadata=alice.metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert rows_of(system, alice.id), "the refused call deleted nothing"
        admin = system.client(admin=True)
        while not erase(
            messages.EraseUserRequest(user_id=alice.id), metadata=admin.metadata, timeout=10
        ).done:
            pass
    assert not [t for t in rows_of(system, alice.id) if t.startswith(f"{service}.")]


def test_erasure_service_refuses_another_users_erasure_over_grpc(
    system: System, alice: User, bob: User
) -> None:
    with system.channel("exports") as channel:
        stub = erasure_pb2_grpc.ErasureServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.StartErasure(epb.StartErasureRequest(user_id=bob.id), metadata=alice.metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as refused:
            stub.PreviewErasure(
                epb.PreviewErasureRequest(user_id=bob.id), metadata=alice.metadata, timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
