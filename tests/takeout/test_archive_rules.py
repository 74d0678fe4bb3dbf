"""The archive rules without I/O beyond a scratch file: names a takeout writes and a restore accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.errors import DepotError
from services.exports.imports import archive
from services.exports.imports.archive import ArchiveRefused, unsafe_name, verify
from services.exports.rendering.takeout import compresses, entry_path
from tests.takeout.support import build


@pytest.mark.parametrize("segment", ["..", ".", "", "a/b", "a\\b", "nul\x00"])
def test_the_writer_refuses_a_segment_that_could_leave_the_archive(segment: str) -> None:
    with pytest.raises(DepotError):
        entry_path("chats", segment, "files.json")


def test_the_writer_keeps_unicode_and_dots_inside_a_name() -> None:
    assert entry_path("chats", "c.1", "files", "報告..v2.md") == "chats/c.1/files/報告..v2.md"


@pytest.mark.parametrize(
    "name",
    ["/abs", "C:/x", "c:x", "../x", "a/../../x", "a//b", "a/./b", "dir/", "a\\b", "a\x00b"],
)
def test_the_reader_refuses_unsafe_names(name: str) -> None:
    assert unsafe_name(name) is not None, name


@pytest.mark.parametrize("name", ["prompts/x.json", "chats/c/files/..hidden", "chats/c/files/a b.txt"])
def test_the_reader_accepts_names_inside_the_archive(name: str) -> None:
    assert unsafe_name(name) is None


def test_text_is_deflated_and_binary_is_stored() -> None:
    assert compresses("text/markdown; charset=utf-8") and compresses("application/json")
    assert not compresses("image/png") and not compresses("application/zip")


def test_verify_lists_every_problem_at_once(tmp_path: Path) -> None:
    manifest = {
        "version": 1,
        "owner": "x",
        "created_at": "2026-01-01T00:00:00Z",
        "entries": [
            {"path": "feedback.json", "kind": "feedback", "sha256": "0" * 64, "size_bytes": 2},
            {"path": "prompts/a.json", "kind": "file", "sha256": "0" * 64, "size_bytes": 2},
        ],
    }
    path = tmp_path / "a.zip"
    path.write_bytes(
        build([("feedback.json", b"[]"), ("prompts/a.json", b"{}"), ("extra", b"")], manifest=manifest)
    )
    with pytest.raises(ArchiveRefused) as refused:
        verify(path, max_expanded_bytes=1024)
    messages = dict(refused.value.problems)
    assert "does not belong at this path" in messages["prompts/a.json"]
    assert "not listed in manifest.json" in messages["extra"]


def test_verify_checks_digests_once_the_shape_is_right(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    manifest = {
        "version": 1,
        "owner": "x",
        "created_at": "2026-01-01T00:00:00Z",
        "entries": [{"path": "feedback.json", "kind": "feedback", "sha256": "0" * 64, "size_bytes": 2}],
    }
    path.write_bytes(build([("feedback.json", b"[]")], manifest=manifest))
    with pytest.raises(ArchiveRefused, match=r"sha256 is not what manifest\.json says"):
        verify(path, max_expanded_bytes=1024)
    path.write_bytes(build([("feedback.json", b"[]")]))
    assert [e.path for e in verify(path, max_expanded_bytes=1024)] == ["feedback.json"]
    with pytest.raises(ArchiveRefused, match="expands to"):
        verify(path, max_expanded_bytes=1)


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [("MAX_ENTRIES", 2, "entries, more than 2"), ("MAX_DIRECTORY_BYTES", 100, "directory is")],
)
def test_a_directory_over_the_limits_is_refused_from_its_end_record_before_zipfile_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int, message: str
) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(build([("feedback.json", b"[]"), ("security_scans.json", b"[]")]))
    monkeypatch.setattr(archive, limit, value)

    def unopened(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the central directory")

    monkeypatch.setattr(archive.zipfile, "ZipFile", unopened)
    with pytest.raises(ArchiveRefused) as refused:
        verify(path, max_expanded_bytes=1024)
    assert message in refused.value.problems[0][1]
