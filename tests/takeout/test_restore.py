"""Restore: POST /imports with a takeout recreates everything in the caller's account, once."""

from __future__ import annotations

import io
import json
import zipfile

from tests.support.system import User
from tests.takeout.support import build, manifest_of, restored, small_account, takeout


def normalised(archive: bytes) -> dict[str, object]:
    """The archive's content apart from ids, revisions and times."""
    out: dict[str, object] = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        for entry in manifest_of(archive)["entries"]:
            data = z.read(entry["path"])
            if entry["kind"] == "prompt":
                doc = json.loads(data)
                fields = {
                    k: v
                    for k, v in doc["fields"].items()
                    if k not in ("id", "revision", "created_at", "updated_at")
                }
                if str(fields.get("request_id") or "").startswith("takeout-"):
                    fields["request_id"] = None  # the restore's key for a prompt that had none
                versions = [{k: v for k, v in row.items() if k != "created_at"} for row in doc["versions"]]
                out[f"prompt:{fields['original_text']}"] = (fields, versions, doc["labels"])
            elif entry["kind"] == "artifact":
                doc = json.loads(data)
                out[f"artifact:{doc['title']}"] = (doc["columns"], doc["rows"])
            elif entry["kind"] in ("feedback", "security_scans", "files"):
                rows = json.loads(data)
                out[entry["path"]] = [{k: v for k, v in r.items() if not k.endswith("_at")} for r in rows]
            else:
                out[entry["path"]] = (entry["sha256"], entry["size_bytes"])
    return out


def test_a_takeout_restored_into_another_user_takes_out_the_same(alice: User, bob: User) -> None:
    small_account(alice)
    first = takeout(alice)
    job = restored(bob, first)
    assert job["status"] == "completed", job["errors"]
    assert job["errors"] == [], job
    assert job["counts"] == {
        "prompts": 2,
        "labels": 2,
        "feedback": 1,
        "security_scans": 1,
        "files": 3,
        "artifacts": 1,
    }
    second = takeout(bob)
    assert normalised(second) == normalised(first)


def test_restoring_twice_changes_nothing(alice: User, bob: User) -> None:
    small_account(alice)
    archive = takeout(alice)
    assert restored(bob, archive)["status"] == "completed"
    before = normalised(takeout(bob))
    again = restored(bob, archive)
    assert again["status"] == "completed", again
    assert again["counts"] == dict.fromkeys(again["counts"], 0), again
    assert again["skipped"] == 10, again
    assert normalised(takeout(bob)) == before


def test_a_single_prompt_json_export_restores(alice: User, bob: User) -> None:
    prompt = alice.create_prompt(
        request_id="one", original_text="restore me", versions=[{"text": "v", "source": "s"}]
    )
    export = alice.http.post(
        "/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "json"}
    ).json()
    body = alice.http.get(f"/api/v1/exports/{export['id']}/content").content
    job = restored(bob, body, "application/json")
    assert job["status"] == "completed" and job["counts"]["prompts"] == 1, job
    [item] = bob.http.get("/api/v1/prompts").json()["items"]
    assert item["request_id"] == "one" and item["original_text"] == "restore me"


def test_someone_elses_import_is_not_found(alice: User, bob: User) -> None:
    job = restored(alice, build([]))
    assert job["status"] == "completed" and job["counts"] == dict.fromkeys(job["counts"], 0), job
    reply = bob.http.get(f"/api/v1/imports/{job['id']}")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "NOT_FOUND", reply.text
    assert bob.http.get("/api/v1/imports/not-a-uuid").status_code == 404
