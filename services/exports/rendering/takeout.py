"""The takeout: source `account` in format `zip`, everything of one user in one streamed archive.

    manifest.json                          {version, owner, created_at, entries, receipt}
    prompts/<id>.json                      the json rendering of prompts/<id> with include_workflow,
                                           and its labels: [{name, version_no, protected}]
    feedback.json, security_scans.json     arrays, newest first (as the lists answer)
    chats/<chat_id>/files/<filename>       the bytes, exactly
    chats/<chat_id>/files.json             their metadata
    chats/<chat_id>/artifacts/<id>.json    {id, chat_id, title, columns, rows, created_at}

The zip is written as a stream (rendering/renderers/csv_zip.render_zip): each entry's bytes pass
through once, hashed and counted on the way, and the manifest that lists them is the last entry.
Memory holds one prompt, one page of feedback or one chunk of a file, plus a line per entry for
the manifest. Names come from validated ids and file names; `entry_path` still refuses any
segment that could leave the archive's root, so no reader unpacks outside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from depot.prompts.v1 import prompts_pb2
from services.common import errors
from services.common.cells import cell_value
from services.common.timestamps import datetime_of
from services.exports.rendering.account import AccountPrompt, AccountReader, enum_word
from services.exports.rendering.renderers import RENDERER_VERSION, render_zip
from services.exports.rendering.renderers.chunks import byte_chunks
from services.exports.rendering.renderers.formats import render
from services.exports.rendering.renderers.model import Report, Table
from services.exports.rendering.reports import RenderStats, prompt_report

MANIFEST_VERSION = 1
MANIFEST = "manifest.json"
FEEDBACK = "feedback.json"
SECURITY_SCANS = "security_scans.json"
KINDS = ("prompt", "feedback", "security_scans", "file", "files", "artifact")
_FORBIDDEN_IN_SEGMENT = ("/", "\\", "\x00")


def entry_path(*segments: str) -> str:
    """An archive path from segments none of which can climb out of, or jump over, the root."""
    for segment in segments:
        if segment in ("", ".", "..") or any(c in segment for c in _FORBIDDEN_IN_SEGMENT):
            raise errors.DepotError(f"refusing an unsafe archive name segment {segment!r}")
    return "/".join(segments)


def rfc3339(message_time: Any) -> str:
    return datetime_of(message_time).isoformat().replace("+00:00", "Z")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


class Manifest:
    """Collects each entry's path, kind, digest and size as its bytes go by."""

    def __init__(self, owner: str, created_at: datetime) -> None:
        self.owner, self.created_at = owner, created_at
        self.entries: list[dict[str, Any]] = []
        self.stored: set[str] = set()  # entries written without compression (see compresses)
        self.counts = dict.fromkeys(("prompts", "feedback", "security_scans", "files", "artifacts"), 0)

    def entry(self, path: str, kind: str, chunks: Iterable[bytes]) -> tuple[str, Iterator[bytes]]:
        return path, self._measured(path, kind, chunks)

    def _measured(self, path: str, kind: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        self.entries.append({"path": path, "kind": kind, "sha256": digest.hexdigest(), "size_bytes": size})

    def document(self, receipt: dict[str, Any]) -> bytes:
        return dumps(
            {
                "version": MANIFEST_VERSION,
                "owner": self.owner,
                "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
                "entries": self.entries,
                "receipt": receipt,
            }
        )


def render_account(
    reader: AccountReader, *, owner: str, revision: str, stats: RenderStats
) -> Iterator[bytes]:
    """The takeout archive of `owner`, streamed."""
    now = datetime.now(UTC)
    stats.saw_snapshot(now, revision)
    manifest = Manifest(owner, now)
    return render_zip(_entries(reader, manifest, revision, stats), stored=manifest.stored.__contains__)


def _entries(
    reader: AccountReader, manifest: Manifest, revision: str, stats: RenderStats
) -> Iterator[tuple[str, Iterator[bytes]]]:
    for taken in reader.prompts():
        manifest.counts["prompts"] += 1
        stats.row_count += 1
        path = entry_path("prompts", f"{taken.prompt.id}.json")
        yield manifest.entry(path, "prompt", render(_prompt_document(taken, manifest.created_at), "json"))
    yield manifest.entry(FEEDBACK, "feedback", _json_array(_feedback(reader, manifest)))
    yield manifest.entry(SECURITY_SCANS, "security_scans", _json_array(_scans(reader, manifest)))
    for chat in list(reader.chats()):
        yield from _chat_entries(reader, manifest, chat.chat_id, stats)
    receipt = {
        "source": "account",
        "source_revision": revision,
        "renderer_version": RENDERER_VERSION,
        "counts": manifest.counts,
    }
    yield MANIFEST, iter([manifest.document(receipt)])


LABEL_COLUMNS = ["name", "version_no", "protected"]


def _prompt_document(taken: AccountPrompt, read_time: datetime) -> Report:
    """The prompt's json export with its workflow, and then its labels (a restore sets them again)."""
    report = prompt_report(taken.prompt, include_workflow=True, stats=RenderStats(), read_time=read_time)
    labels = [(label.name, label.version_no, label.protected) for label in taken.labels]
    report.tables = [*report.tables, Table("labels", LABEL_COLUMNS, labels)]
    return report


def _json_array(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """A JSON array written item by item."""

    def pieces() -> Iterator[bytes]:
        separator = b"[\n"
        for item in items:
            yield separator + orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
            separator = b",\n"
        yield b"[]\n" if separator == b"[\n" else b"\n]\n"

    return byte_chunks(pieces())


def _feedback(reader: AccountReader, manifest: Manifest) -> Iterator[dict[str, Any]]:
    for item in reader.feedback():
        manifest.counts["feedback"] += 1
        yield {
            "request_id": item.request_id,
            "user_choice": enum_word(prompts_pb2.UserChoice, item.user_choice, "USER_CHOICE_"),
            "judge_winner": item.judge_winner,
            "agent_winner": item.agent_winner,
            "judge_correct": item.judge_correct,
            "created_at": rfc3339(item.create_time),
            "updated_at": rfc3339(item.update_time),
        }


def _scans(reader: AccountReader, manifest: Manifest) -> Iterator[dict[str, Any]]:
    for scan in reader.security_scans():
        manifest.counts["security_scans"] += 1
        yield {
            "input_text": scan.input_text,
            "risk_score": scan.risk_score,
            "label": enum_word(prompts_pb2.SecurityLabel, scan.label, "SECURITY_LABEL_"),
            "created_at": rfc3339(scan.create_time),
        }


def _chat_entries(
    reader: AccountReader, manifest: Manifest, chat_id: str, stats: RenderStats
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """The chat's files (their bytes from one snapshot of the chat), files.json, then its artifacts."""
    described: list[dict[str, Any]] = []
    for file, chunks in _chat_files(reader, chat_id):
        described.append(file_metadata(file))
        manifest.counts["files"] += 1
        stats.row_count += 1
        path = entry_path("chats", chat_id, "files", file.filename)
        if not compresses(file.media_type):
            manifest.stored.add(path)
        yield manifest.entry(path, "file", chunks)
    if described:
        yield manifest.entry(entry_path("chats", chat_id, "files.json"), "files", [dumps(described)])
    for artifact in reader.artifacts(chat_id):
        manifest.counts["artifacts"] += 1
        path = entry_path("chats", chat_id, "artifacts", f"{artifact.id}.json")
        yield manifest.entry(path, "artifact", [dumps(artifact_document(artifact))])


def _chat_files(reader: AccountReader, chat_id: str) -> Iterator[tuple[Any, Iterator[bytes]]]:
    """(file metadata, chunks) of each file of the chat, from one StreamChatFiles stream."""
    responses = reader.chat_stream(chat_id)
    try:
        pending = None
        for message in responses:
            if message.WhichOneof("part") == "file":
                pending = message.file
                break
        while pending is not None:
            current, pending = pending, None
            box: list[Any] = []
            yield current, _file_chunks(responses, box)
            pending = box[0] if box else None
    finally:
        responses.cancel()


def _file_chunks(responses: Iterator[Any], box: list[Any]) -> Iterator[bytes]:
    for message in responses:
        if message.WhichOneof("part") != "chunk":
            box.append(message.file)
            return
        yield message.chunk


def compresses(media_type: str) -> bool:
    """Whether a file's bytes are worth deflating: text is; images, archives, PDFs and other binary
    formats are compressed already (or random), and deflating them only costs CPU."""
    media = media_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(
        ("json", "xml", "yaml", "csv", "javascript", "x-python")
    )


def file_metadata(file: Any) -> dict[str, Any]:
    """What files.json says of one file: enough to store it again exactly."""
    return {
        "filename": file.filename,
        "file_type": file.file_type,
        "media_type": file.media_type,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
        "description": file.description,
        "metadata": orjson.loads(file.metadata_json) if file.metadata_json else None,
        "created_at": rfc3339(file.create_time),
        "updated_at": rfc3339(file.update_time),
    }


def artifact_document(artifact: Any) -> dict[str, Any]:
    """An artifact as JSON: cells keep their types (an integer stays one, a double stays one)."""
    return {
        "id": artifact.id,
        "chat_id": artifact.chat_id,
        "title": artifact.title,
        "columns": list(artifact.columns),
        "rows": [[cell_value(cell) for cell in row.cells] for row in artifact.rows],
        "created_at": rfc3339(artifact.create_time),
    }
