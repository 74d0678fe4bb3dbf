"""`depot files import DIR`: seed 003's migration script, done properly.

Reads a `DIR/{user_id}/chats/{chat_id}/*` tree into the files service's schema, through the
service's own rules and repository (the same validation, limits and revisions as an upload).
Each file is one transaction, so a failure never leaves half a file behind. A file already
stored with the same bytes is left alone, so a second run changes nothing; one stored with other
bytes is kept (the database is the source of truth once imported) unless --replace is given.
Unreadable or invalid files are reported and skipped; the exit status is 1 when any was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import replace as replace_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.common.errors import DepotError
from services.common.settings import Settings
from services.files import rules
from services.files.content import Spool

if TYPE_CHECKING:  # the database modules load only when an import runs, not for every `depot` command
    from services.common.database import Database
    from services.files.service import Upload

READ_BYTES = 1024 * 1024
MAX_OWNER_CHARS = 255


@dataclass(frozen=True)
class Entry:
    """One thing found in the tree: a file to import, or a reason it cannot be."""

    path: Path
    owner: str
    chat_id: str
    problem: str | None = None


def add_parser(commands: Any) -> Any:
    files = commands.add_parser(
        "files", help="chat files: import a resources/{user}/chats/{chat}/* tree, or apply retention"
    )
    actions = files.add_subparsers(dest="files_command", required=True)
    run_import = actions.add_parser("import", help="import DIR/{user_id}/chats/{chat_id}/* into the database")
    run_import.add_argument("directory", type=Path, metavar="DIR")
    run_import.add_argument("--dry-run", action="store_true", help="list what would be done; change nothing")
    run_import.add_argument(
        "--replace", action="store_true", help="overwrite stored files whose bytes differ"
    )
    return actions


def run(args: argparse.Namespace) -> None:
    if not args.directory.is_dir():
        sys.exit(f"{args.directory} is not a directory")
    settings = Settings()
    skipped = asyncio.run(import_tree(args.directory, settings, dry_run=args.dry_run, replace=args.replace))
    sys.exit(1 if skipped else 0)


def walk(root: Path) -> Iterator[Entry]:
    """Every file of the tree in a stable order; what is not a regular file in a chat folder is a problem."""
    for user_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        chats = user_dir / "chats"
        if not chats.is_dir():
            continue
        for chat_dir in sorted(chats.iterdir()):
            if not chat_dir.is_dir() or chat_dir.is_symlink():
                yield Entry(chat_dir, user_dir.name, chat_dir.name, "not a chat directory")
                continue
            try:
                paths = sorted(chat_dir.iterdir())
            except OSError as exc:
                yield Entry(chat_dir, user_dir.name, chat_dir.name, f"unreadable: {exc.strerror}")
                continue
            for path in paths:
                if path.is_symlink():
                    yield Entry(path, user_dir.name, chat_dir.name, "a symbolic link, not a file")
                elif not path.is_file():
                    yield Entry(path, user_dir.name, chat_dir.name, "not a regular file")
                else:
                    yield Entry(path, user_dir.name, chat_dir.name)


def _display(path: Path) -> str:
    """A path as printable text: bytes that are not UTF-8 are shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_owner(owner: str) -> None:
    if not 1 <= len(owner) <= MAX_OWNER_CHARS or not owner.isprintable():
        raise DepotError(f"user id must be 1 to {MAX_OWNER_CHARS} printable characters, got {owner!r}")


def _read(path: Path, spool: Spool, limit: int) -> None:
    with path.open("rb") as source:
        while data := source.read(READ_BYTES):
            if spool.size + len(data) > limit:
                raise rules.too_large(limit)
            spool.write(data)


async def import_tree(root: Path, settings: Settings, *, dry_run: bool, replace: bool) -> int:
    """Imports (or lists) every file of the tree; returns how many were skipped."""
    from services.common.database import Database

    database = Database(settings.database_url_for("files"), pool_size=1, application_name="depot-import")
    await database.open()
    counts = {"created": 0, "replaced": 0, "unchanged": 0, "differs": 0, "skipped": 0}
    try:
        for entry in walk(root):
            name = _display(entry.path.relative_to(root))
            if entry.problem:
                outcome, detail = "skipped", entry.problem
            else:
                try:
                    outcome, detail = await _import_file(
                        database, entry, settings, dry_run=dry_run, replace=replace
                    )
                except (DepotError, OSError) as exc:
                    outcome, detail = "skipped", getattr(exc, "message", None) or str(exc)
            counts[outcome] += 1
            label = (
                f"would {outcome.removesuffix('d')}"
                if dry_run and outcome in ("created", "replaced")
                else outcome
            )
            print(f"{label:<13} {name}" + (f": {detail}" if detail else ""), flush=True)
    finally:
        await database.close()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    print(f"{'dry run: ' if dry_run else ''}{summary}")
    return counts["skipped"]


async def _import_file(
    database: Database, entry: Entry, settings: Settings, *, dry_run: bool, replace: bool
) -> tuple[str, str]:
    """(outcome, detail) of one file; the write, if any, is one transaction."""
    from services.files import service
    from services.files.repository import FilesRepository

    _check_owner(entry.owner)
    limit = settings.max_file_bytes
    upload = service.check_upload(
        chat_id=entry.chat_id,
        filename=entry.path.name,
        file_type="",
        media_type="",
        description=None,
        metadata_json=None,
        if_match=(),
        if_none_match=(),
        expected_size=entry.path.stat().st_size,
        limit=limit,
    )
    with Spool() as spool:
        _read(entry.path, spool, limit)
        async with database.begin() as session:
            repo = FilesRepository(session)
            stored = await repo.get_file(owner=entry.owner, chat_id=upload.chat_id, filename=upload.filename)
            if stored is not None and stored.sha256 == spool.sha256:
                return "unchanged", ""
            if stored is not None and not replace:
                return "differs", "kept the stored file (--replace overwrites it)"
            outcome = "created" if stored is None else "replaced"
            if not dry_run:
                guarded = _guarded(upload, stored.sha256 if stored is not None else None)
                await service.put_file(
                    repo,
                    owner=entry.owner,
                    upload=guarded,
                    content=spool,
                    default_quota=settings.file_quota_bytes,
                )
            return outcome, f"{spool.size} bytes"


def _guarded(upload: Upload, current_sha256: str | None) -> Upload:
    """The upload made safe against a concurrent writer: over exactly what was compared, or create-only."""
    if current_sha256 is None:
        return replace_fields(upload, if_none_match=("*",), if_match=())
    return replace_fields(upload, if_match=(current_sha256,), if_none_match=())
