"""Verifying a takeout archive against its manifest, whole, before anything of it is written.

Refused, with every problem listed by entry: a body that is no zip; a name that is absolute, climbs
out (`..`), holds a backslash, NUL or empty segment, or is a directory; a name twice; an entry the
manifest does not list or one it lists that is missing; a size or sha256 that is not what the
manifest says; a path that does not fit its kind's place in the layout; and zip bombs: more entries
than MAX_ENTRIES, more expanded bytes than the limit, or an entry that expands more than
MAX_RATIO times (above RATIO_FLOOR bytes, so tiny or empty files never trip it). Sizes are the zip's
declared ones, checked against the manifest before any byte is inflated, and reading an entry never
yields more than its declared size (zipfile stops there and checks the CRC), so the limits hold
against a lying header too. No I/O besides reading the archive file.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.errors import InvalidArgument

MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 1_000_000
# Opening a zip reads its whole central directory into memory and makes an object per entry, so the
# end record's entry count and directory size are checked first: a 4 GiB upload of empty entries
# would otherwise cost tens of GiB before the entry count could be looked at.
MAX_DIRECTORY_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
READ_BYTES = 1024 * 1024
_SEGMENT = r"[^/\\\x00]+"
# Where each kind lives in the layout (rendering/takeout.py writes it).
LAYOUT = {
    "prompt": re.compile(rf"prompts/{_SEGMENT}\.json"),
    "feedback": re.compile(r"feedback\.json"),
    "security_scans": re.compile(r"security_scans\.json"),
    "file": re.compile(rf"chats/{_SEGMENT}/files/{_SEGMENT}"),
    "files": re.compile(rf"chats/{_SEGMENT}/files\.json"),
    "artifact": re.compile(rf"chats/{_SEGMENT}/artifacts/{_SEGMENT}\.json"),
}


@dataclass(frozen=True)
class Entry:
    """One verified entry: where it is, what it is, how long."""

    path: str
    kind: str
    size_bytes: int


@dataclass
class Problems:
    """Problems by entry path ("" for the archive as a whole)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        if len(self.items) < 100:  # enough to act on; a hostile archive could list millions
            self.items.append((path, message))


class ArchiveRefused(InvalidArgument):
    """The archive does not match its manifest (or is no archive); nothing of it may be written."""

    default_reason = "IMPORT_REFUSED"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        first = problems[0][1] if problems else "the archive was refused"
        super().__init__(
            f"the archive was refused: {first}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        )


def unsafe_name(name: str) -> str | None:
    """Why an archive name is unsafe to unpack or to trust, or None."""
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if "\\" in name or "\x00" in name:
        return "backslash or NUL in the name"
    segments = name.split("/")
    if any(s == ".." for s in segments):
        return "path climbs out of the archive (..)"
    if any(s in ("", ".") for s in segments):
        return "empty or '.' path segment (or a directory entry)"
    return None


def verify(path: Path, *, max_expanded_bytes: int) -> list[Entry]:
    """The archive's entries in manifest order once every check passed; ArchiveRefused otherwise."""
    problems = Problems()
    too_large = _directory_too_large(path)
    if too_large:
        raise ArchiveRefused([("", too_large)])
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveRefused([("", f"the upload is not a readable zip archive ({exc})")]) from None
    with archive:
        infos = _checked_names(archive, problems)
        manifest = _manifest(archive, infos, problems)
        if manifest is None or problems.items:
            raise ArchiveRefused(problems.items)
        entries = _against_manifest(manifest, infos, problems)
        _bomb_limits(infos, path.stat().st_size, max_expanded_bytes, problems)
        if problems.items:
            raise ArchiveRefused(problems.items)
        for entry in entries:
            _check_digest(archive, infos[entry.path], manifest[entry.path], problems)
    if problems.items:
        raise ArchiveRefused(problems.items)
    return entries


def _directory_too_large(path: Path) -> str | None:
    """Why the archive's central directory is too large to open, read from its end record alone."""
    try:
        with path.open("rb") as fp:
            end = zipfile._EndRecData(fp)  # the reader zipfile itself opens with (zip64 included)
    except OSError:
        return None  # ZipFile reports it
    if not end:
        return None  # no end record: ZipFile reports the body as no zip
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > MAX_ENTRIES:
        return f"the archive holds {entries} entries, more than {MAX_ENTRIES}"
    if size > MAX_DIRECTORY_BYTES:
        return f"the archive's directory is {size} bytes, more than {MAX_DIRECTORY_BYTES}"
    return None


def _checked_names(archive: zipfile.ZipFile, problems: Problems) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    listed = archive.infolist()
    if len(listed) > MAX_ENTRIES:
        problems.add("", f"the archive holds {len(listed)} entries, more than {MAX_ENTRIES}")
        return infos
    for info in listed:
        reason = unsafe_name(info.filename)
        if reason:
            problems.add(info.filename, reason)
        elif info.filename in infos:
            problems.add(info.filename, "the name appears twice in the archive")
        else:
            infos[info.filename] = info
    return infos


def _manifest(
    archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], problems: Problems
) -> dict[str, dict[str, Any]] | None:
    info = infos.get(MANIFEST)
    if info is None:
        problems.add(MANIFEST, "the archive has no manifest.json")
        return None
    if info.file_size > MANIFEST_MAX_BYTES:
        problems.add(MANIFEST, f"manifest.json is over {MANIFEST_MAX_BYTES} bytes")
        return None
    try:
        document = json.loads(archive.read(info))
        entries = document["entries"]
        if document.get("version") != 1 or not isinstance(entries, list):
            raise ValueError("expected version 1 and a list of entries")
        listed: dict[str, dict[str, Any]] = {}
        for item in entries:
            path, kind = str(item["path"]), str(item["kind"])
            if path in listed:
                problems.add(path, "manifest.json lists the path twice")
            listed[path] = {
                "kind": kind,
                "sha256": str(item["sha256"]),
                "size_bytes": int(item["size_bytes"]),
            }
        return listed
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        problems.add(MANIFEST, f"manifest.json is not a takeout manifest ({type(exc).__name__}: {exc})")
        return None


def _against_manifest(
    manifest: dict[str, dict[str, Any]], infos: dict[str, zipfile.ZipInfo], problems: Problems
) -> list[Entry]:
    entries = []
    for path, listed in manifest.items():
        layout = LAYOUT.get(listed["kind"])
        reason = unsafe_name(path)
        if reason:
            problems.add(path, f"manifest.json lists an unsafe path: {reason}")
        elif layout is None:
            problems.add(path, f"unknown kind {listed['kind']!r}")
        elif not layout.fullmatch(path):
            problems.add(path, f"a {listed['kind']} entry does not belong at this path")
        elif path not in infos:
            problems.add(path, "listed in manifest.json but missing from the archive")
        elif infos[path].file_size != listed["size_bytes"]:
            problems.add(
                path, f"size is {infos[path].file_size} bytes, manifest.json says {listed['size_bytes']}"
            )
        else:
            entries.append(Entry(path, listed["kind"], listed["size_bytes"]))
    for path in infos:
        if path != MANIFEST and path not in manifest:
            problems.add(path, "in the archive but not listed in manifest.json")
    return entries


def _bomb_limits(
    infos: dict[str, zipfile.ZipInfo], archive_bytes: int, max_expanded_bytes: int, problems: Problems
) -> None:
    total = sum(info.file_size for info in infos.values())
    if total > max_expanded_bytes:
        problems.add("", f"the archive expands to {total} bytes, more than the limit of {max_expanded_bytes}")
    for info in infos.values():
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.add(
                info.filename,
                f"expands {info.file_size // max(info.compress_size, 1)} times, more than {MAX_RATIO} (a zip bomb?)",
            )


def _check_digest(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, listed: dict[str, Any], problems: Problems
) -> None:
    digest = hashlib.sha256()
    try:
        for chunk in read_entry(archive, info):
            digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        problems.add(info.filename, f"the entry cannot be read ({exc})")
        return
    if digest.hexdigest() != listed["sha256"]:
        problems.add(info.filename, "sha256 is not what manifest.json says")


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's bytes in chunks; never more than its declared size (zipfile checks the CRC)."""
    with archive.open(info) as stream:
        while chunk := stream.read(READ_BYTES):
            yield chunk
