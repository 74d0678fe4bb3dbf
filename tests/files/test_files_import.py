"""`depot files import DIR` on a generated resources tree: run twice, dry run, bad files skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.files.support import file_url
from tests.support.system import System, User

GOOD = {
    ("c1", "notes.md"): b"# Notes\nline two\n",
    ("c1", "all.bin"): bytes(range(256)) * 4,
    ("c1", "empty.txt"): b"",
    ("c2", "growth_analysis.py"): b"def analyze():\n    return 1\n",
}
BAD = {
    "bad\x01name.txt": "must not contain control characters",
    "huge.bin": "must be at most",
    "link.txt": "symbolic link",
    "nested": "not a regular file",
    "caf\\xe9.txt": "is not valid UTF-8",
    "bad chat/x.txt": "chat_id must be",
}


def _run(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "files", "import", *args],
        env=system.stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, str, str]:
    """resources/{alice}/chats/{c1,c2}/… and resources/{bob}/chats/c1/…, with a few bad entries."""
    alice, bob = f"user-{uuid.uuid4().hex[:12]}", f"user-{uuid.uuid4().hex[:12]}"
    root = tmp_path / "resources"
    for (chat, name), content in GOOD.items():
        (root / alice / "chats" / chat).mkdir(parents=True, exist_ok=True)
        (root / alice / "chats" / chat / name).write_bytes(content)
    (root / bob / "chats" / "c1").mkdir(parents=True)
    (root / bob / "chats" / "c1" / "b.csv").write_bytes(b"a,b\n1,2\n")
    c1 = root / alice / "chats" / "c1"
    (c1 / "bad\x01name.txt").write_bytes(b"x")
    with (c1 / "huge.bin").open("wb") as sparse:
        sparse.truncate(25 * 1024 * 1024 + 1)
    (c1 / "link.txt").symlink_to(c1 / "notes.md")
    (c1 / "nested").mkdir()
    (c1 / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"latin-1 name")  # a name that is not UTF-8
    (root / alice / "chats" / "bad chat").mkdir()  # an invalid chat id
    (root / alice / "chats" / "bad chat" / "x.txt").write_bytes(b"x")
    return root, alice, bob


def test_import_twice_stores_each_file_once_and_changes_nothing_the_second_time(
    system: System, tree: tuple[Path, str, str]
) -> None:
    root, alice_id, bob_id = tree
    first = _run(system, str(root))
    assert first.returncode == 1, first.stderr  # 1: some files were skipped
    assert "5 created, 0 replaced, 0 unchanged, 0 differs, 6 skipped" in first.stdout, first.stdout
    for name, why in BAD.items():
        line = next(line for line in first.stdout.splitlines() if name in line)
        assert line.startswith("skipped") and why in line, line
    alice = system.client(alice_id)
    for (chat, name), content in GOOD.items():
        reply = alice.http.get(file_url(chat, name))
        assert (reply.status_code, reply.content) == (200, content), name
    listed = alice.http.get("/api/v1/chats/c1/files").json()["items"]
    assert {f["filename"]: f["file_type"] for f in listed} == {
        "notes.md": "markdown",
        "all.bin": "binary",
        "empty.txt": "text",
    }
    assert system.client(bob_id).http.get(file_url("c1", "b.csv")).content == b"a,b\n1,2\n"
    before = {f["filename"]: (f["revision"], f["updated_at"]) for f in listed}

    second = _run(system, str(root))
    assert "0 created, 0 replaced, 5 unchanged, 0 differs, 6 skipped" in second.stdout, second.stdout
    after = alice.http.get("/api/v1/chats/c1/files").json()["items"]
    assert {f["filename"]: (f["revision"], f["updated_at"]) for f in after} == before
    alice.http.close()


def test_dry_run_lists_what_it_would_do_and_writes_nothing(
    system: System, tree: tuple[Path, str, str]
) -> None:
    root, alice_id, _ = tree
    run = _run(system, str(root), "--dry-run")
    assert "would create  " in run.stdout and "notes.md" in run.stdout
    assert "dry run: 5 created" in run.stdout, run.stdout
    alice: User = system.client(alice_id)
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []
    assert alice.http.get("/api/v1/chats/c1/files").status_code == 200
    alice.http.close()


def test_a_file_changed_on_disk_is_kept_unless_replace_is_given(
    system: System, tree: tuple[Path, str, str]
) -> None:
    root, alice_id, _ = tree
    _run(system, str(root))
    (root / alice_id / "chats" / "c1" / "notes.md").write_bytes(b"edited on disk\n")
    kept = _run(system, str(root))
    assert "differs       " in kept.stdout and "1 differs" in kept.stdout, kept.stdout
    alice = system.client(alice_id)
    assert alice.http.get(file_url("c1", "notes.md")).content == GOOD[("c1", "notes.md")]
    replaced = _run(system, str(root), "--replace")
    assert "1 replaced" in replaced.stdout, replaced.stdout
    assert alice.http.get(file_url("c1", "notes.md")).content == b"edited on disk\n"
    alice.http.close()


def test_import_of_a_missing_directory_fails(system: System, tmp_path: Path) -> None:
    run = _run(system, str(tmp_path / "nope"))
    assert run.returncode != 0
    assert "is not a directory" in run.stderr
