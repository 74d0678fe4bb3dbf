"""Takeout: POST /exports {"source": "account", "format": "zip"} is a job whose zip holds everything."""

from __future__ import annotations

import io
import json
import zipfile

from tests.support.system import User
from tests.takeout.support import manifest_of, sha256, small_account, takeout


def test_takeout_is_a_job_whose_zip_lists_every_entry_with_its_digest(alice: User) -> None:
    small_account(alice)
    reply = alice.http.post("/api/v1/exports", json={"source": "account", "format": "zip"})
    assert reply.status_code == 202, reply.text
    archive = takeout(alice)
    manifest = manifest_of(archive)
    assert manifest["version"] == 1 and manifest["owner"] == alice.id
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        names = set(z.namelist())
        assert names == {e["path"] for e in manifest["entries"]} | {"manifest.json"}
        for entry in manifest["entries"]:
            data = z.read(entry["path"])
            assert (sha256(data), len(data)) == (entry["sha256"], entry["size_bytes"]), entry["path"]
        assert z.read("chats/c-2/files/blob.bin") == bytes(range(256)) * 1000
        assert z.read("chats/c1/files/empty.bin") == b""
        files = {f["filename"]: f for f in json.loads(z.read("chats/c1/files.json"))}
        assert files["notes.md"]["description"] == "my notes"
        assert files["notes.md"]["metadata"] == {"k": [1, 2]}
        feedback = json.loads(z.read("feedback.json"))
        assert [f["agent_winner"] for f in feedback] == ["domain"]
        scans = json.loads(z.read("security_scans.json"))
        assert scans[0]["label"] == "suspicious" and scans[0]["risk_score"] == 0.75
        prompts = [json.loads(z.read(p)) for p in names if p.startswith("prompts/")]
    assert len(prompts) == 2
    branching = next(p for p in prompts if p["fields"]["request_id"] == "req-a")
    assert [v["parent_version_no"] for v in branching["versions"]] == [None, 1, 1]
    assert branching["fields"]["best_version_no"] == 2
    kinds = sorted(e["kind"] for e in manifest["entries"])
    assert kinds.count("file") == 3 and kinds.count("prompt") == 2 and kinds.count("artifact") == 1
    assert manifest["receipt"]["counts"] == {
        "prompts": 2,
        "feedback": 1,
        "security_scans": 1,
        "files": 3,
        "artifacts": 1,
    }


def test_takeout_of_an_empty_account_holds_empty_lists(bob: User) -> None:
    archive = takeout(bob)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert json.loads(z.read("feedback.json")) == []
        assert json.loads(z.read("security_scans.json")) == []
    assert {e["path"] for e in manifest_of(archive)["entries"]} == {"feedback.json", "security_scans.json"}
