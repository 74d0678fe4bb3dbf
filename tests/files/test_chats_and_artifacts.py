"""Chats, table artifacts, other users and the seed 003 routes, end to end through the gateway."""

from __future__ import annotations

import pytest

from tests.files.support import file_url, put, reason, stored
from tests.support.system import User

TABLE = {
    "title": "Revenue by quarter",
    "columns": ["quarter", "revenue", "growth", "final", "note"],
    "rows": [["Q1", 1200, 0.5, False, None], ["Q2", -3, 1e-9, True, "ünïcode ✓"]],
}


def test_artifact_round_trips_with_typed_cells(alice: User) -> None:
    created = alice.http.post("/api/v1/chats/c1/artifacts", json=TABLE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in TABLE} == TABLE
    assert (body["chat_id"], body["row_count"]) == ("c1", 2)
    fetched = alice.http.get(f"/api/v1/artifacts/{body['id']}").json()
    assert fetched == body
    assert [type(v) for v in fetched["rows"][0]] == [str, int, float, bool, type(None)]


def test_artifacts_list_without_rows_newest_first(alice: User) -> None:
    ids = [
        alice.http.post("/api/v1/chats/c1/artifacts", json={**TABLE, "title": f"t{i}"}).json()["id"]
        for i in range(3)
    ]
    page = alice.http.get("/api/v1/chats/c1/artifacts", params={"page_size": 2}).json()
    assert [a["id"] for a in page["items"]] == ids[:0:-1]
    assert all("rows" not in a for a in page["items"])
    rest = alice.http.get("/api/v1/chats/c1/artifacts", params={"page_token": page["next_page_token"]}).json()
    assert [a["id"] for a in rest["items"]] == ids[:1]


def _cells(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "columns": ["a"], "rows": []}, "title"),
        ({"title": "t" * 256, "columns": ["a"], "rows": []}, "title"),
        ({"title": "t", "columns": [], "rows": []}, "columns"),
        ({"title": "t", "columns": _cells(101), "rows": []}, "columns"),
        ({"title": "t", "columns": ["a", "a"], "rows": []}, "columns"),
        ({"title": "t", "columns": ["a", ""], "rows": []}, "columns[1]"),
        ({"title": "t", "columns": ["a", "b"], "rows": [["x"]]}, "rows[0]"),
        ({"title": "t", "columns": ["a"], "rows": [["x" * 32_769]]}, "rows[0][0]"),
        ({"title": "t", "columns": ["a"], "rows": [["x"]] * 10_001}, "rows"),
        ({"title": "t", "columns": ["a"], "rows": [["nul\u0000"]]}, "rows[0][0]"),
    ],
)
def test_artifact_over_a_documented_limit_is_400(alice: User, body: dict[str, object], field: str) -> None:
    reply = alice.http.post("/api/v1/chats/c1/artifacts", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["details"][0]["metadata"] == {"field": field}


def test_artifact_at_the_limits_is_accepted(alice: User) -> None:
    body = {
        "title": "t" * 255,
        "columns": _cells(100),
        "rows": [["x" * 32_768] + [None] * 99] + [[1] * 100] * 9,
    }
    assert alice.http.post("/api/v1/chats/c1/artifacts", json=body).status_code == 201


def test_artifact_integer_outside_int64_is_400(alice: User) -> None:
    reply = alice.http.post(
        "/api/v1/chats/c1/artifacts", json={"title": "t", "columns": ["a"], "rows": [[2**63]]}
    )
    assert reply.status_code == 400


def test_malformed_or_unknown_artifact_id_is_404(alice: User) -> None:
    for artifact_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        reply = alice.http.get(f"/api/v1/artifacts/{artifact_id}")
        assert (reply.status_code, reason(reply)) == (404, "ARTIFACT_NOT_FOUND")


def test_other_users_files_artifacts_and_chats_are_not_found(alice: User, bob: User) -> None:
    stored(alice, "c1", "secret.txt", b"alice's")
    artifact = alice.http.post("/api/v1/chats/c1/artifacts", json=TABLE).json()
    url = file_url("c1", "secret.txt")
    for reply in (
        bob.http.get(url),
        bob.http.patch(url, json={"description": "x"}),
        bob.http.delete(url),
        bob.http.post(url + ":replace", json={"old": "a", "new": "b"}),
        bob.http.get(f"/api/v1/artifacts/{artifact['id']}"),
        bob.http.get("/api/chat-files/c1/download/secret.txt"),
        bob.http.delete("/api/chat-files/c1/secret.txt"),
    ):
        assert (reply.status_code, reply.json()["error"]["code"]) == (404, "NOT_FOUND"), reply.text
    assert bob.http.get("/api/v1/chats/c1/files").json()["items"] == []
    assert bob.http.get("/api/v1/chats/c1/artifacts").json()["items"] == []
    assert bob.http.get("/api/chat-files/c1").json() == []
    assert bob.http.delete("/api/v1/chats/c1").status_code == 404
    assert alice.http.get(url).content == b"alice's"


def test_two_users_chats_of_the_same_id_are_different_chats(alice: User, bob: User) -> None:
    stored(alice, "c1", "same.txt", b"alice")
    assert put(bob, "c1", "same.txt", b"bob").status_code == 201, "bob's c1 is a new chat"
    assert alice.http.get(file_url("c1", "same.txt")).content == b"alice"
    assert bob.http.delete("/api/v1/chats/c1").status_code == 204
    assert alice.http.get(file_url("c1", "same.txt")).content == b"alice"


def test_delete_chat_removes_every_file_and_artifact(alice: User) -> None:
    for name in ("a.txt", "b.bin"):
        stored(alice, "gone", name, b"x")
    stored(alice, "kept", "k.txt", b"k")
    artifact = alice.http.post("/api/v1/chats/gone/artifacts", json=TABLE).json()
    assert alice.http.delete("/api/v1/chats/gone").status_code == 204
    assert alice.http.get("/api/v1/chats/gone/files").json()["items"] == []
    assert alice.http.get("/api/v1/chats/gone/artifacts").json()["items"] == []
    assert alice.http.get(f"/api/v1/artifacts/{artifact['id']}").status_code == 404
    assert alice.http.get(file_url("gone", "a.txt")).status_code == 404
    assert alice.http.get(file_url("kept", "k.txt")).content == b"k"
    assert alice.http.delete("/api/v1/chats/gone").status_code == 404


def test_seed_routes_list_download_and_delete(alice: User) -> None:
    stored(
        alice,
        "chat-42",
        "growth_analysis.py",
        b"def analyze():\n    pass\n",
        params={"description": "growth"},
    )
    stored(alice, "chat-42", "todo.md", b"# Generate Code\n")
    listed = alice.http.get("/api/chat-files/chat-42")
    assert listed.status_code == 200
    files = listed.json()
    assert isinstance(files, list)
    assert [f["filename"] for f in files] == ["todo.md", "growth_analysis.py"]
    assert {"id", "filename", "file_type", "size_bytes", "created_at", "description"} <= set(files[0])
    assert (files[1]["file_type"], files[1]["size_bytes"], files[1]["description"]) == (
        "python",
        24,
        "growth",
    )
    download = alice.http.get("/api/chat-files/chat-42/download/growth_analysis.py")
    assert download.status_code == 200
    assert download.content == b"def analyze():\n    pass\n"
    assert download.headers["content-type"] == "text/x-python"
    assert download.headers["content-disposition"].startswith('attachment; filename="growth_analysis.py"')
    assert alice.http.delete("/api/chat-files/chat-42/todo.md").status_code == 204
    assert [f["filename"] for f in alice.http.get("/api/chat-files/chat-42").json()] == ["growth_analysis.py"]
    assert alice.http.get("/api/chat-files/empty-chat").json() == []


def test_readyz_covers_the_files_service(alice: User) -> None:
    reply = alice.http.get("/readyz")
    assert reply.status_code == 200
    assert reply.json()["services"]["files"] == "serving"


def test_chats_list_most_recently_written_first_with_counts(alice: User, bob: User) -> None:
    stored(alice, "older", "a.txt", "a")
    stored(alice, "newer", "b.txt", "b")
    stored(alice, "newer", "c.txt", "c")
    assert alice.http.post("/api/v1/chats/tables/artifacts", json=TABLE).status_code == 201
    stored(bob, "bobs-chat", "secret.txt", "bob's")
    stored(alice, "older", "d.txt", "d")  # a write moves the chat to the front
    listing = alice.http.get("/api/v1/chats")
    assert listing.status_code == 200, listing.text
    chats = listing.json()["items"]
    assert [(c["chat_id"], c["file_count"], c["artifact_count"]) for c in chats] == [
        ("older", 2, 0),
        ("tables", 0, 1),
        ("newer", 2, 0),
    ]
    assert chats[0]["revision"] > chats[1]["revision"] > chats[2]["revision"]
    assert "bobs-chat" not in listing.text
    assert [c["chat_id"] for c in bob.http.get("/api/v1/chats").json()["items"]] == ["bobs-chat"]


def test_chats_page_by_token_and_a_deleted_chat_is_gone(alice: User) -> None:
    for i in range(5):
        stored(alice, f"chat-{i}", "f.txt", str(i))
    seen: list[str] = []
    token = ""
    while True:
        page = alice.http.get("/api/v1/chats", params={"page_size": 2, "page_token": token}).json()
        assert len(page["items"]) <= 2
        seen += [c["chat_id"] for c in page["items"]]
        if not (token := page["next_page_token"]):
            break
    assert seen == [f"chat-{i}" for i in reversed(range(5))]
    assert alice.http.delete("/api/v1/chats/chat-3").status_code in (200, 204)
    remaining = [c["chat_id"] for c in alice.http.get("/api/v1/chats").json()["items"]]
    assert remaining == ["chat-4", "chat-2", "chat-1", "chat-0"]


@pytest.mark.parametrize("params", [{"page_token": "forged"}, {"page_size": -1}, {"page_size": "many"}])
def test_chats_listing_refuses_bad_paging_with_400(alice: User, params: dict[str, object]) -> None:
    reply = alice.http.get("/api/v1/chats", params=params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_a_user_with_no_chats_lists_none(alice: User) -> None:
    assert alice.http.get("/api/v1/chats").json() == {
        "items": [],
        "next_page_token": "",
        "used_bytes": 0,
        "quota_bytes": 0,
    }
