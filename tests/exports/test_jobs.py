"""Export jobs through the gateway: datasets are queued (202 + Location), followed with `?wait=`,
and rendered once by a worker with their progress and attempts on record."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf import duration_pb2

from depot.exports.v1 import exports_pb2 as pb
from depot.exports.v1 import exports_pb2_grpc
from tests.exports import readers
from tests.exports.conftest import content, create_session, export, follow
from tests.support.system import System, User


def test_a_dataset_is_queued_with_a_location_and_completes_with_its_rows(alice: User) -> None:
    sessions = [create_session(alice) for _ in range(3)]
    accepted = export(alice, "datasets/temporal", "csv")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] in ("queued", "processing", "completed"), accepted.json()
    assert accepted.headers["location"] == f"/api/v1/exports/{accepted.json()['id']}"
    done = follow(alice, accepted)
    assert done["status"] == "completed" and done["error"] is None, done
    assert done["rows_rendered"] == done["receipt"]["row_count"] == 9, "three versions of three sessions"
    assert done["attempts"] == 1
    rows = readers.csv_rows(content(alice, done["id"]).content)
    assert len(rows) == 9
    assert {s.marker for s in sessions} <= {row["text"].split()[-1] for row in rows}


def test_the_same_dataset_again_joins_the_job_or_reuses_its_export(alice: User) -> None:
    create_session(alice)
    first = export(alice, "datasets/multi-agent", "json")
    again = export(alice, "datasets/multi-agent", "json")
    assert first.status_code == 202, first.text
    assert again.json()["id"] == first.json()["id"], "one job per cache key"
    if again.status_code == 202:
        assert again.headers["location"] == first.headers["location"]
    else:
        assert again.status_code == 200 and again.json()["status"] == "completed", again.text
    assert follow(alice, first)["attempts"] == 1


def test_twenty_concurrent_requests_for_one_dataset_make_one_job(alice: User, system: System) -> None:
    create_session(alice)
    clients = [system.client(alice.id) for _ in range(20)]
    try:
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda c: export(c, "datasets/all", "xlsx"), clients))
    finally:
        for client in clients:
            client.http.close()
    assert {r.status_code for r in replies} <= {200, 202}, [r.text for r in replies]
    assert len({r.json()["id"] for r in replies}) == 1
    done = follow(alice, next(r for r in replies if r.status_code == 202))
    assert (done["status"], done["attempts"]) == ("completed", 1)
    listed = alice.http.get("/api/v1/exports", params={"source": "datasets/all"}).json()["items"]
    assert [e["id"] for e in listed] == [done["id"]], "exactly one rendering was stored"


def test_wait_answers_as_soon_as_the_job_ends(alice: User) -> None:
    create_session(alice)
    accepted = export(alice, "datasets/feedback", "yaml")
    assert accepted.status_code == 202, accepted.text
    started = time.monotonic()
    reply = alice.http.get(accepted.headers["location"], params={"wait": 25})
    took = time.monotonic() - started
    assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text
    assert took < 10, f"a small job ends in well under its 25 s wait, took {took:.1f} s"


def test_wait_on_an_ended_export_answers_at_once(alice: User) -> None:
    session = create_session(alice, feedback=False)
    created = export(alice, f"prompts/{session.id}", "json")
    assert created.status_code == 201, "prompt sessions still render in the request"
    started = time.monotonic()
    reply = alice.http.get(f"/api/v1/exports/{created.json()['id']}", params={"wait": 30})
    assert reply.status_code == 200 and time.monotonic() - started < 2
    assert reply.json()["rows_rendered"] == 3 and reply.json()["attempts"] == 0


def test_bad_waits_are_400(alice: User) -> None:
    session = create_session(alice, feedback=False)
    created = export(alice, f"prompts/{session.id}", "text").json()
    for bad in ("-1", "soon", "nan", "inf"):
        reply = alice.http.get(f"/api/v1/exports/{created['id']}", params={"wait": bad})
        assert reply.status_code == 400, (bad, reply.text)
        assert reply.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_queued_exports_can_be_listed_by_state(alice: User) -> None:
    create_session(alice)
    accepted = export(alice, "datasets/effectiveness", "csv")
    follow(alice, accepted)
    assert alice.http.get("/api/v1/exports", params={"status": "queued"}).json()["items"] == []
    completed = alice.http.get("/api/v1/exports", params={"status": "completed"}).json()["items"]
    assert accepted.json()["id"] in [e["id"] for e in completed]


def test_grpc_clients_wait_too_and_a_negative_wait_is_invalid(alice: User, system: System) -> None:
    create_session(alice)
    accepted = export(alice, "datasets/temporal", "markdown")
    assert accepted.status_code == 202, accepted.text
    with system.channel("exports") as channel:
        stub = exports_pb2_grpc.ExportsServiceStub(channel)
        request = pb.GetExportRequest(id=accepted.json()["id"], wait=duration_pb2.Duration(seconds=25))
        reply = stub.GetExport(request, metadata=alice.metadata, timeout=40)
        assert reply.export.state == pb.EXPORT_STATE_COMPLETED
        assert reply.export.rows_rendered == reply.export.receipt.row_count == 3
        negative = pb.GetExportRequest(id=accepted.json()["id"], wait=duration_pb2.Duration(seconds=-1))
        try:
            stub.GetExport(negative, metadata=alice.metadata, timeout=10)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc
        else:
            raise AssertionError("a negative wait was accepted")


def test_seed_routes_still_answer_with_a_finished_dataset_export(alice: User) -> None:
    create_session(alice)
    reply = alice.http.post("/api/storage/export-temporal")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["records"] == 3
    fetched = alice.http.get(f"/api/v1/exports/{body['export_id']}").json()
    assert (fetched["status"], fetched["attempts"]) == ("completed", 1)
