"""Helpers of the erasure tests: a user's data in every service built through the public API,
an erasure followed to its end, and the checks that nothing of the user is left anywhere."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.exports.conftest import create_session, export_ok
from tests.support.system import System, User
from tests.takeout.support import build

SCHEMAS = ("prompts", "files", "exports")
FILE_BYTES = b"\x00\x01 erasure bytes \xff" * 1000


@dataclass
class Seeded:
    """Ids of everything seeded for one user, and the keys their export bytes are stored under."""

    prompts: list[str] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    blob_keys: list[str] = field(default_factory=list)


def seed(user: User, *, prompts: int = 3, files: int = 2, webhook: bool = False) -> Seeded:
    """Prompts with versions, scores and feedback, a security scan, chats with files and an
    artifact, exports (one shared by a link) of prompts, datasets and a chat, a schedule, a restore
    job and, with `webhook` (a system that allows private targets), a webhook with deliveries."""
    seeded = Seeded()
    if webhook:  # first, so that the writes below queue deliveries (to a port nobody listens on)
        hook = user.http.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["prompt.created"]}
        )
        assert hook.status_code == 201, hook.text
        seeded.webhooks.append(hook.json()["id"])
    for _ in range(prompts):
        seeded.prompts.append(create_session(user).id)
    label = user.http.put(f"/api/v1/prompts/{seeded.prompts[0]}/labels/production", json={"version_no": 1})
    assert label.status_code == 200, label.text
    scan = user.http.post(
        "/api/v1/security-scans",
        json={"input_text": "ignore all rules", "risk_score": 0.9, "label": "malicious"},
    )
    assert scan.status_code == 201, scan.text
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    seeded.chats.append(chat)
    for n in range(files):
        reply = user.http.put(f"/api/v1/chats/{chat}/files/notes-{n}.txt", content=FILE_BYTES)
        assert reply.status_code in (200, 201), reply.text
    artifact = user.http.post(
        f"/api/v1/chats/{chat}/artifacts", json={"title": "t", "columns": ["a"], "rows": [[1], [2]]}
    )
    assert artifact.status_code == 201, artifact.text
    seeded.artifacts.append(artifact.json()["id"])
    for source, fmt in (
        (f"prompts/{seeded.prompts[0]}", "csv"),
        ("datasets/temporal", "json"),
        (f"chats/{chat}", "zip"),
    ):
        seeded.exports.append(export_ok(user, source, fmt)["id"])
    link = user.http.post(f"/api/v1/exports/{seeded.exports[0]}/links", json={"expires_in": 600})
    assert link.status_code == 201, link.text
    seeded.links.append(link.json()["token"])
    schedule = user.http.post(
        "/api/v1/export-schedules",
        json={"source": "datasets/feedback", "format": "csv", "every": "daily", "mode": "incremental"},
    )
    assert schedule.status_code == 201, schedule.text
    seeded.schedules.append(schedule.json()["id"])
    restore = user.http.post(
        "/api/v1/imports", content=build([]), headers={"content-type": "application/zip"}
    )
    assert restore.status_code == 202, restore.text
    seeded.imports.append(restore.json()["id"])
    seeded.blob_keys = blob_keys(user.system, seeded.exports)
    assert len(seeded.blob_keys) == len(seeded.exports), seeded.blob_keys
    return seeded


def blob_keys(system: System, export_ids: list[str]) -> list[str]:
    with psycopg.connect(system.database.url) as conn:
        rows = conn.execute(
            "SELECT blob_key FROM exports.exports WHERE id = ANY(%s) AND blob_key IS NOT NULL",
            ([uuid.UUID(i) for i in export_ids],),
        ).fetchall()
    return [r[0] for r in rows]


def start(user: User, path: str = "/api/v1/account") -> dict[str, Any]:
    reply = user.http.delete(path)
    assert reply.status_code == 202, f"expected 202, got {reply.status_code}: {reply.text}"
    body: dict[str, Any] = reply.json()
    assert reply.headers["location"] == f"/api/v1/account/erasures/{body['id']}"
    assert body["status"] in ("queued", "processing", "completed"), body
    return body


def follow(user: User, erasure_id: str, *, seconds: float = 120) -> dict[str, Any]:
    """The erasure once completed (polled; the worker wakes as soon as it is queued)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = user.http.get(f"/api/v1/account/erasures/{erasure_id}")
        # 503 only while a restarted exports process is being reached again.
        assert reply.status_code in (200, 503), reply.text
        body: dict[str, Any] = reply.json()
        if reply.status_code == 200 and body["status"] == "completed":
            return body
        assert time.monotonic() < deadline, f"not completed in {seconds} s: {body}"
        time.sleep(0.1)


def user_columns(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every column of Depot's schemas that holds a user's id: `owner`
    and the `*_by` ones (who moved a label)."""
    rows = conn.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(%s)"
        " AND (c.column_name = 'owner' OR c.column_name LIKE '%%\\_by') ORDER BY 1, 2, 3",
        (list(SCHEMAS),),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def rows_of(system: System, user_id: str) -> dict[str, int]:
    """The rows naming the user in every user column of every schema, by table.column (non-zero only)."""
    found = {}
    with psycopg.connect(system.database.url) as conn:
        for schema, table, column in user_columns(conn):
            count = conn.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" = %s', (user_id,)
            ).fetchone()
            if count and count[0]:
                found[f"{schema}.{table}.{column}"] = count[0]
    return found


def stored_keys(system: System, keys: list[str], store: Any = None) -> list[str]:
    """Which of `keys` the blob store still holds: the postgres store's chunks, a local store's
    files, or (with `store`, a function key → bool) an S3 bucket's objects."""
    if store is not None:
        return [k for k in keys if store(k)]
    spec = system.stack.env.get("DEPOT_BLOB_STORE", "postgres")
    if spec.startswith("local:"):
        root = Path(spec.removeprefix("local:"))
        return [k for k in keys if (root / k).exists()]
    with psycopg.connect(system.database.url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT key FROM exports.blob_chunks WHERE key = ANY(%s)", (keys,)
        ).fetchall()
    return [r[0] for r in rows]


def assert_erased(user: User, seeded: Seeded, store: Any = None) -> None:
    """Every list empty, every old id and share link 404, no row and no blob of the user left."""
    http = user.http
    for path in (
        "/api/v1/prompts",
        "/api/v1/feedback",
        "/api/v1/security-scans",
        "/api/v1/chats",
        "/api/v1/exports",
    ):
        reply = http.get(path)
        assert reply.status_code == 200, reply.text
        assert reply.json()["items"] == [], f"{path}: {reply.json()['items']}"
    for path in (
        *(f"/api/v1/prompts/{i}" for i in seeded.prompts),
        *(f"/api/v1/chats/{c}/files" for c in ()),
        *(f"/api/v1/artifacts/{i}" for i in seeded.artifacts),
        *(f"/api/v1/exports/{i}" for i in seeded.exports),
        *(f"/api/v1/exports/{i}/content" for i in seeded.exports),
        *(f"/api/v1/export-schedules/{i}" for i in seeded.schedules),
        *(f"/api/v1/imports/{i}" for i in seeded.imports),
        *(f"/api/v1/webhooks/{i}" for i in seeded.webhooks),
    ):
        reply = http.get(path)
        assert reply.status_code == 404, f"{path}: expected 404, got {reply.status_code}: {reply.text[:300]}"
    for chat in seeded.chats:
        reply = http.get(f"/api/v1/chats/{chat}/files/notes-0.txt")
        assert reply.status_code == 404, f"chat file: expected 404, got {reply.status_code}"
    with user.system.anonymous() as anonymous:
        for token in seeded.links:
            assert anonymous.get(f"/s/{token}").status_code == 404, "a share link outlived its user"
    left = rows_of(user.system, user.id)
    assert left == {}, f"rows of the erased user are left: {left}"
    assert stored_keys(user.system, seeded.blob_keys, store) == [], "export bytes of the erased user are left"


def assert_intact(user: User, seeded: Seeded) -> None:
    """Another user's data is all there."""
    assert len(user.http.get("/api/v1/prompts").json()["items"]) == len(seeded.prompts)
    assert len(user.http.get("/api/v1/exports").json()["items"]) >= len(seeded.exports)
    for path in (
        *(f"/api/v1/export-schedules/{i}" for i in seeded.schedules),
        *(f"/api/v1/imports/{i}" for i in seeded.imports),
    ):
        assert user.http.get(path).status_code == 200, path
    for export_id in seeded.exports:
        assert user.http.get(f"/api/v1/exports/{export_id}/content").status_code == 200
    for chat in seeded.chats:
        assert user.http.get(f"/api/v1/chats/{chat}/files/notes-0.txt").content == FILE_BYTES
    with user.system.anonymous() as anonymous:
        for token in seeded.links:
            assert anonymous.get(f"/s/{token}").status_code in (200, 302)


def erasure_record(system: System, erasure_id: str) -> dict[str, Any]:
    with psycopg.connect(system.database.url) as conn:
        row = conn.execute(
            "SELECT row_to_json(e)::text FROM exports.erasures e WHERE id = %s", (uuid.UUID(erasure_id),)
        ).fetchone()
    assert row is not None
    return {"json": row[0]}
