"""The export lifecycle through the gateway: cache by source revision, render once, read, delete."""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

from tests.exports.conftest import content, create_session, export, export_ok, scores
from tests.support.system import System, User


def test_same_request_reuses_the_stored_export_while_the_source_is_unchanged(alice: User) -> None:
    session = create_session(alice, feedback=False)
    first = export(alice, f"prompts/{session.id}", "json")
    again = export(alice, f"prompts/{session.id}", "json", include_workflow=True, csv_mode="safe")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["cache_hits"] == 1
    assert again.json()["sha256"] == first.json()["sha256"]


def test_a_change_to_the_source_renders_a_new_export_and_keeps_the_old_as_history(alice: User) -> None:
    session = create_session(alice, feedback=False)
    before = export_ok(alice, f"prompts/{session.id}", "markdown")
    reply = alice.http.put(f"/api/v1/prompts/{session.id}/versions/3/score", json=scores(10))
    assert reply.status_code == 200, reply.text
    after = export(alice, f"prompts/{session.id}", "markdown")
    assert after.status_code == 201, after.text
    assert after.json()["id"] != before["id"]
    assert after.json()["source_revision"] != before["source_revision"]
    assert "| 3 | 1 | domain |" in content(alice, after.json()["id"]).text.replace("true", "")
    listed = alice.http.get("/api/v1/exports", params={"source": f"prompts/{session.id}"}).json()["items"]
    assert [e["id"] for e in listed] == [after.json()["id"], before["id"]], "newest first, old one kept"


def test_twenty_concurrent_first_requests_render_once_and_get_the_same_bytes(
    alice: User, system: System
) -> None:
    session = create_session(alice)
    clients = [system.client(alice.id) for _ in range(20)]

    def request(i: int) -> tuple[int, str, str]:
        reply = export(clients[i], f"prompts/{session.id}", "xlsx")  # datasets queue: see test_jobs
        body = reply.json()
        data = content(clients[i], body["id"]).content
        return reply.status_code, body["id"], hashlib.sha256(data).hexdigest()

    try:
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(request, range(20)))
    finally:
        for client in clients:
            client.http.close()
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 19 + [201], statuses
    assert len({export_id for _, export_id, _ in results}) == 1
    assert len({digest for _, _, digest in results}) == 1
    listed = alice.http.get("/api/v1/exports", params={"source": f"prompts/{session.id}"}).json()["items"]
    assert len(listed) == 1, "exactly one rendering was stored"
    assert session.marker


def test_receipt_and_headers_describe_the_bytes(alice: User) -> None:
    session = create_session(alice, feedback=False)
    body = export_ok(alice, f"prompts/{session.id}", "yaml")
    reply = content(alice, body["id"])
    digest = hashlib.sha256(reply.content).hexdigest()
    receipt = body["receipt"]
    assert receipt["sha256"] == body["sha256"] == digest
    assert receipt["size_bytes"] == body["size_bytes"] == len(reply.content)
    assert receipt["source_revision"] == str(session.prompt["revision"]) == body["source_revision"]
    assert receipt["row_count"] == 3
    assert receipt["renderer_version"] and receipt["snapshot_time"].endswith("Z")
    assert reply.headers["etag"] == f'"{digest}"'
    assert reply.headers["content-disposition"].startswith(f'attachment; filename="prompt-{session.id}.yaml"')
    cached = alice.http.get(f"/api/v1/exports/{body['id']}/content", headers={"If-None-Match": f'"{digest}"'})
    assert cached.status_code == 304 and cached.content == b""
    fetched = alice.http.get(f"/api/v1/exports/{body['id']}").json()
    assert fetched["download_count"] == 1 and fetched["last_downloaded_at"] is not None


def test_delete_removes_the_export_and_its_bytes(alice: User) -> None:
    session = create_session(alice, feedback=False)
    body = export_ok(alice, f"prompts/{session.id}", "text")
    assert alice.http.delete(f"/api/v1/exports/{body['id']}").status_code == 204
    assert alice.http.get(f"/api/v1/exports/{body['id']}").status_code == 404
    assert alice.http.get(f"/api/v1/exports/{body['id']}/content").status_code == 404
    assert alice.http.delete(f"/api/v1/exports/{body['id']}").status_code == 404
    assert export(alice, f"prompts/{session.id}", "text").status_code == 201, "a deleted export is not reused"


def test_list_pages_newest_first(alice: User) -> None:
    session = create_session(alice, feedback=False)
    ids = [export_ok(alice, f"prompts/{session.id}", fmt)["id"] for fmt in ("json", "yaml", "text")]
    first = alice.http.get("/api/v1/exports", params={"page_size": 2}).json()
    second = alice.http.get(
        "/api/v1/exports", params={"page_size": 2, "page_token": first["next_page_token"]}
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == ids[::-1]
    assert second["next_page_token"] == ""


def test_exports_of_another_user_are_not_found(alice: User, bob: User) -> None:
    session = create_session(alice, feedback=False)
    body = export_ok(alice, f"prompts/{session.id}", "json")
    assert bob.http.get(f"/api/v1/exports/{body['id']}").status_code == 404
    assert bob.http.get(f"/api/v1/exports/{body['id']}/content").status_code == 404
    assert bob.http.delete(f"/api/v1/exports/{body['id']}").status_code == 404
    assert bob.http.get("/api/v1/exports").json()["items"] == []


def test_share_link_downloads_without_a_token_and_a_bad_link_is_not_found(
    alice: User, system: System
) -> None:
    session = create_session(alice, feedback=False)
    body = export_ok(alice, f"prompts/{session.id}", "json")
    link = alice.http.post(f"/api/v1/exports/{body['id']}/links", json={"expires_in": 60})
    assert link.status_code == 201, link.text
    with system.anonymous() as anonymous:
        shared = anonymous.get(link.json()["url"].removeprefix(system.url))
        assert shared.status_code == 200, shared.text
        assert hashlib.sha256(shared.content).hexdigest() == body["sha256"]
        assert anonymous.get("/s/" + "A" * 43).status_code == 404
        assert anonymous.get(f"/api/v1/exports/{body['id']}/content").status_code == 401
    too_long = alice.http.post(f"/api/v1/exports/{body['id']}/links", json={"expires_in": 8 * 86400})
    assert too_long.status_code == 400


def test_every_answer_logs_artifact_exported_with_its_figures(alice: User, system: System) -> None:
    session = create_session(alice, feedback=False)
    body = export_ok(alice, f"prompts/{session.id}", "csv")
    export_ok(alice, f"prompts/{session.id}", "csv")
    deadline = time.monotonic() + 10
    while True:
        events = [
            line
            for line in (json.loads(raw) for raw in system.logs().splitlines() if body["id"] in raw)
            if line.get("event") == "artifact_exported"
        ]
        if len(events) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [e["cache_hit"] for e in events] == [False, True], events
    first = events[0]
    assert (first["user"], first["source"], first["format"]) == (alice.id, f"prompts/{session.id}", "csv")
    assert first["bytes"] == body["size_bytes"] and first["duration_ms"] >= 0
    assert alice.token not in system.logs()


def test_metrics_count_renders_hits_and_bytes_per_format() -> None:
    from prometheus_client import REGISTRY

    from services.exports import telemetry

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        sample("depot_exports_renders_total", format="pdf", outcome="completed"),
        sample("depot_exports_cache_hits_total", format="pdf"),
        sample("depot_exports_rendered_bytes_total", format="pdf"),
        sample("depot_exports_render_duration_seconds_count", format="pdf"),
    )
    telemetry.exported(user="u", export_id="e", source="s", fmt="pdf", size=100, seconds=0.5, cache_hit=False)
    telemetry.exported(user="u", export_id="e", source="s", fmt="pdf", size=100, seconds=0.01, cache_hit=True)
    after = (
        sample("depot_exports_renders_total", format="pdf", outcome="completed"),
        sample("depot_exports_cache_hits_total", format="pdf"),
        sample("depot_exports_rendered_bytes_total", format="pdf"),
        sample("depot_exports_render_duration_seconds_count", format="pdf"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 100, 1]
