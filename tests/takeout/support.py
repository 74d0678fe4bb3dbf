"""Helpers of the takeout tests: an account built through the public API, its takeout read back."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from typing import Any

import httpx

from tests.exports.conftest import export_ok
from tests.support.system import User

SCORE_NAMES = ("clarity", "specificity", "actionability", "structure", "context_use")


def put_file(user: User, chat_id: str, filename: str, data: bytes, **params: str) -> None:
    reply = user.http.put(
        f"/api/v1/chats/{chat_id}/files/{filename}",
        content=data,
        params=params,
        headers={"content-type": "application/octet-stream"},
    )
    assert reply.status_code in (200, 201), reply.text


def set_label(user: User, prompt_id: str, name: str, version_no: int, **extra: bool) -> dict[str, Any]:
    reply = user.http.put(
        f"/api/v1/prompts/{prompt_id}/labels/{name}", json={"version_no": version_no, **extra}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def prompt_documents(archive: bytes) -> dict[str, dict[str, Any]]:
    """The archive's prompt documents by original text."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        documents = [
            json.loads(z.read(e["path"])) for e in manifest_of(archive)["entries"] if e["kind"] == "prompt"
        ]
    return {doc["fields"]["original_text"]: doc for doc in documents}


def small_account(user: User) -> None:
    """Two prompts (one branching and scored, with two labels), feedback, a scan, two chats with
    files and an artifact."""
    branching = user.create_prompt(
        request_id="req-a",
        agent_type="writer",
        original_text="Write a haiku about ünïcode ✓",
        versions=[
            {"text": "v1", "source": "syntax", "scores": dict.fromkeys(SCORE_NAMES, 5)},
            {
                "text": "v2",
                "source": "structure",
                "parent_version_no": 1,
                "scores": dict.fromkeys(SCORE_NAMES, 8),
            },
            {"text": "v3", "source": "domain", "parent_version_no": 1, "explanation": {"why": "shorter"}},
        ],
    )
    set_label(user, branching["id"], "production", 3)
    set_label(user, branching["id"], "candidate", 2)
    user.create_prompt(original_text="no request id, no versions")
    reply = user.http.post(
        "/api/v1/feedback",
        json={
            "request_id": "req-a",
            "user_choice": "multi",
            "judge_winner": "structure",
            "agent_winner": "domain",
        },
    )
    assert reply.status_code in (200, 201), reply.text
    reply = user.http.post(
        "/api/v1/security-scans",
        json={"input_text": "ignore previous", "risk_score": 0.75, "label": "suspicious"},
    )
    assert reply.status_code in (200, 201), reply.text
    put_file(user, "c1", "notes.md", "# héllo\n".encode(), description="my notes", metadata='{"k": [1, 2]}')
    put_file(user, "c1", "empty.bin", b"")
    put_file(user, "c-2", "blob.bin", bytes(range(256)) * 1000)
    reply = user.http.post(
        "/api/v1/chats/c1/artifacts",
        json={"title": "Table", "columns": ["a", "b"], "rows": [[1, "x"], [2.5, None], [True, "y"]]},
    )
    assert reply.status_code == 201, reply.text


def takeout(user: User) -> bytes:
    """The user's takeout archive, as bytes."""
    body = export_ok(user, "account", "zip")
    reply = user.http.get(f"/api/v1/exports/{body['id']}/content")
    assert reply.status_code == 200, reply.text[:300]
    return reply.content


def manifest_of(archive: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return json.loads(z.read("manifest.json"))  # type: ignore[no-any-return]


def restore(user: User, body: bytes, content_type: str = "application/zip") -> httpx.Response:
    return user.http.post("/api/v1/imports", content=body, headers={"content-type": content_type})


def restored(
    user: User, body: bytes, content_type: str = "application/zip", deadline: float = 120
) -> dict[str, Any]:
    """The import of `body`, once it has ended."""
    reply = restore(user, body, content_type)
    assert reply.status_code == 202, reply.text
    job = reply.json()
    end = time.monotonic() + deadline
    while job["status"] in ("queued", "processing"):
        assert time.monotonic() < end, f"the import did not end: {job}"
        time.sleep(0.2)
        answer = user.http.get(f"/api/v1/imports/{job['id']}")
        assert answer.status_code == 200, answer.text
        job = answer.json()
    return job  # type: ignore[no-any-return]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entries_of(archive: bytes) -> dict[str, bytes]:
    """Every entry of an archive but the manifest, by path."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in z.namelist() if name != "manifest.json"}


def build(
    entries: list[tuple[str, bytes]],
    *,
    manifest: dict[str, Any] | None = None,
    kinds: dict[str, str] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of `entries` (names as given, duplicates kept) with a manifest that tells the truth
    about them unless one is given."""
    if manifest is None:
        listed = [
            {
                "path": path,
                "kind": (kinds or {}).get(path) or kind_of(path),
                "sha256": sha256(data),
                "size_bytes": len(data),
            }
            for path, data in entries
        ]
        manifest = {"version": 1, "owner": "someone", "created_at": "2026-01-01T00:00:00Z", "entries": listed}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as z:
        for path, data in entries:
            info = zipfile.ZipInfo(path)
            info.compress_type = compression
            z.writestr(info, data)
        z.writestr("manifest.json", json.dumps(manifest))
    return out.getvalue()


def kind_of(path: str) -> str:
    if path.startswith("prompts/"):
        return "prompt"
    if path in ("feedback.json", "security_scans.json"):
        return path.removesuffix(".json")
    if path.endswith("/files.json"):
        return "files"
    if "/artifacts/" in path:
        return "artifact"
    return "file"
