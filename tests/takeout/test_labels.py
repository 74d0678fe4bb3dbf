"""Labels in the takeout: each prompt document lists its labels, a restore sets the ones a prompt
lacks, and a label move makes the next takeout a new one."""

from __future__ import annotations

import json

from tests.support.system import System, User
from tests.takeout.support import (
    build,
    entries_of,
    prompt_documents,
    restored,
    set_label,
    small_account,
    takeout,
)

BRANCHING = "Write a haiku about ünïcode ✓"


def labels_of(user: User, prompt_id: str) -> dict[str, tuple[int, bool]]:
    reply = user.http.get(f"/api/v1/prompts/{prompt_id}/labels")
    assert reply.status_code == 200, reply.text
    return {
        item["label"]: (item["version_no"], item["protected"])
        for item in reply.json()["items"]
        if item["label"] not in ("best", "latest")
    }


def only_prompt(user: User, original_text: str) -> str:
    [prompt_id] = [
        p["id"]
        for p in user.http.get("/api/v1/prompts").json()["items"]
        if p["original_text"] == original_text
    ]
    return prompt_id  # type: ignore[no-any-return]


def test_a_prompt_document_lists_its_labels_and_a_move_makes_a_new_takeout(alice: User) -> None:
    small_account(alice)
    documents = prompt_documents(takeout(alice))
    assert documents[BRANCHING]["labels"] == [
        {"name": "candidate", "version_no": 2, "protected": False},
        {"name": "production", "version_no": 3, "protected": False},
    ]
    assert documents["no request id, no versions"]["labels"] == []

    set_label(alice, documents[BRANCHING]["fields"]["id"], "production", 1)
    moved = prompt_documents(takeout(alice))[BRANCHING]["labels"]
    assert {"name": "production", "version_no": 1, "protected": False} in moved, moved


def test_restore_sets_the_labels_a_prompt_lacks_and_leaves_the_ones_it_has(alice: User, bob: User) -> None:
    small_account(alice)
    archive = takeout(alice)
    job = restored(bob, archive)
    assert job["status"] == "completed" and job["errors"] == [], job
    assert job["counts"]["labels"] == 2, job
    prompt_id = only_prompt(bob, BRANCHING)
    assert labels_of(bob, prompt_id) == {"production": (3, False), "candidate": (2, False)}

    # Moved after the restore: a second restore of the same archive does not move it back.
    set_label(bob, prompt_id, "production", 2)
    again = restored(bob, archive)
    assert again["status"] == "completed" and again["counts"]["labels"] == 0, again
    assert labels_of(bob, prompt_id) == {"production": (2, False), "candidate": (2, False)}


def test_a_protected_label_is_restored_unprotected_and_listed(system: System, bob: User) -> None:
    admin = system.client(admin=True)
    prompt = admin.create_prompt(
        request_id="guarded", versions=[{"text": "v1", "source": "s"}, {"text": "v2", "source": "s"}]
    )
    set_label(admin, prompt["id"], "release", 2, protected=True)
    archive = takeout(admin)
    [document] = prompt_documents(archive).values()
    assert document["labels"] == [{"name": "release", "version_no": 2, "protected": True}]

    job = restored(bob, archive)
    assert job["status"] == "completed" and job["counts"]["labels"] == 1, job
    [error] = job["errors"]
    assert error["path"] == f"prompts/{prompt['id']}.json#labels/release", error
    assert "unprotected" in error["message"] and "admin" in error["message"], error
    assert labels_of(bob, only_prompt(bob, prompt["original_text"])) == {"release": (2, False)}


def test_a_prompt_document_listing_more_labels_than_a_prompt_holds_is_an_error_and_not_restored(
    alice: User, bob: User
) -> None:
    small_account(alice)
    entries = entries_of(takeout(alice))
    [path] = [p for p, data in entries.items() if p.startswith("prompts/") and BRANCHING in data.decode()]
    document = json.loads(entries[path])
    document["labels"] = [{"name": f"l{n:03}", "version_no": 1, "protected": False} for n in range(101)]
    entries[path] = json.dumps(document).encode()

    job = restored(bob, build(list(entries.items())))
    assert job["status"] == "completed", job
    [error] = [e for e in job["errors"] if e["path"].startswith(path)]
    assert "at most 100 labels" in error["message"] and "101" in error["message"], error
    assert BRANCHING not in {p["original_text"] for p in bob.http.get("/api/v1/prompts").json()["items"]}
    assert job["counts"]["labels"] == 0, job
