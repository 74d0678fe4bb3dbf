"""Recreating a verified takeout (or one prompt's json export) in the caller's account.

Everything goes through the owning services' own RPCs, as the import's owner (a service token per
call), so every rule of theirs holds and each prompt is one transaction there:
- prompts: CreatePrompt with the same texts, versions (numbered 1..n as before), parent links,
  explanations and scores, so the best head follows. Its key is the prompt's request_id; a prompt
  that had none gets `takeout-<its old id>`, so a second restore finds it. The same body again is
  "already present" (skipped); another prompt under that request_id is listed as an error.
- labels: SetLabel for each of a prompt's labels it does not have yet (one it has is left where
  it points). The restore acts as the owner, never as an admin, and only an admin protects a
  label: a protected one is set unprotected and listed in errors, for an admin to protect again.
- feedback: SubmitFeedback, only for request_ids with no feedback yet (never replaced).
- security scans: RecordSecurityScan for each scan not yet present (same text, score and label,
  counted as a multiset, so two identical scans restore as two, and a second restore adds none).
- files: UploadFile with if_none_match, the bytes streamed from the archive with their type,
  media type, description and metadata; a (chat, filename) that exists is skipped.
- artifacts: CreateArtifact unless the chat holds one with the same title, columns and rows.
Scans and feedback are restored oldest first, so lists show them in their old order.
Runs in a worker thread; sync gRPC.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import struct_pb2

from depot.files.v1 import files_pb2
from depot.prompts.v1 import labels_pb2, prompts_pb2
from services.common import errors
from services.common.cells import cell_of, cell_value
from services.common.limits import MAX_LABELS_PER_PROMPT
from services.exports.imports.archive import Entry, read_entry
from services.exports.rendering.account import AccountReader, enum_word

SCORE_FIELDS = ("clarity", "specificity", "actionability", "structure", "context_use")
DOCUMENT_MAX_BYTES = 256 * 1024 * 1024  # one prompt json, feedback.json, files.json…
UPLOAD_MESSAGE_BYTES = 256 * 1024
PROMPTS_AT_ONCE = 4
COUNTED = ("prompts", "labels", "feedback", "security_scans", "files", "artifacts")


@dataclass
class Progress:
    """What the import has done so far; read by its heartbeat, recorded at the end. Several restore
    threads add to it at once."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str) -> None:
        """One more item restored (a kind of COUNTED), or `skipped`."""
        with self._lock:
            if kind == "skipped":
                self.skipped += 1
            else:
                self.counts[kind] += 1

    def error(self, path: str, message: str) -> None:
        with self._lock:
            if len(self.errors) < 1000:
                self.errors.append((path, message))

    def snapshot(self) -> tuple[dict[str, int], int, list[tuple[str, str]]]:
        with self._lock:
            return dict(self.counts), self.skipped, list(self.errors)


class EntryError(Exception):
    """One entry could not be restored; the others go on."""


class Restorer:
    """Restores into one user's account through the prompts and files services."""

    def __init__(self, *, prompts: Any, files: Any, metadata: Callable[[], Any], timeout: float) -> None:
        self._prompts, self._files = prompts, files
        self._metadata, self._timeout = metadata, timeout
        self._reader = AccountReader(prompts=prompts, files=files, metadata=metadata, timeout=timeout)

    def _call(self, method: Any, request: Any) -> Any:
        return method(request, metadata=self._metadata(), timeout=self._timeout)

    # Whole uploads ---------------------------------------------------------------------------

    def restore_prompt_json(self, data: bytes, progress: Progress) -> None:
        """A single prompt session's json export."""
        self._guarded("", progress, lambda: self._prompt(_json(data), progress, ""))

    def restore_archive(self, archive: zipfile.ZipFile, entries: list[Entry], progress: Progress) -> None:
        """A verified takeout: prompts first (feedback names them), then the rest."""
        by_kind: dict[str, list[Entry]] = {}
        for entry in entries:
            by_kind.setdefault(entry.kind, []).append(entry)
        read = functools.partial(self._document, archive)
        # Prompts are independent of each other: a few at once keep the prompts service busy.
        with ThreadPoolExecutor(max_workers=PROMPTS_AT_ONCE, thread_name_prefix="depot-restore") as pool:
            list(
                pool.map(
                    lambda e: self._guarded(
                        e.path, progress, lambda: self._prompt(read(e), progress, e.path)
                    ),
                    by_kind.get("prompt", []),
                )
            )
        for entry in by_kind.get("feedback", []):
            self._guarded(entry.path, progress, lambda e: self._feedback(read(e), progress), entry)
        for entry in by_kind.get("security_scans", []):
            self._guarded(entry.path, progress, lambda e: self._scans(read(e), progress), entry)
        files = {e.path: e for e in by_kind.get("file", [])}
        for entry in by_kind.get("files", []):
            self._guarded(entry.path, progress, self._chat_files, archive, entry, files, progress)
        for entry in list(files.values()):  # bytes without a files.json line: stored with inferred types
            self._guarded(entry.path, progress, self._file, archive, entry, {}, progress)
        artifacts: dict[str, list[Entry]] = {}
        for entry in by_kind.get("artifact", []):
            artifacts.setdefault(entry.path.split("/")[1], []).append(entry)
        for chat_id, chat_entries in artifacts.items():
            present = self._guarded(chat_entries[0].path, progress, self._artifact_keys, chat_id)
            for entry in chat_entries:
                self._guarded(
                    entry.path, progress, self._artifact, archive, entry, present or Counter(), progress
                )

    def _guarded(self, path: str, progress: Progress, work: Callable[..., Any], *args: Any) -> Any:
        """work(*args), with a failure of this one entry listed instead of ending the import."""
        try:
            return work(*args)
        except EntryError as exc:
            progress.error(path, str(exc))
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise errors.Unavailable(f"a service did not answer while restoring {path}") from None
            progress.error(path, str(exc.details()))
        return None

    def _document(self, archive: zipfile.ZipFile, entry: Entry) -> Any:
        if entry.size_bytes > DOCUMENT_MAX_BYTES:
            raise EntryError(f"a {entry.kind} document over {DOCUMENT_MAX_BYTES} bytes")
        return _json(b"".join(read_entry(archive, archive.getinfo(entry.path))))

    # Prompts ---------------------------------------------------------------------------------

    def _prompt(self, document: Any, progress: Progress, path: str) -> None:
        request = prompt_request(document)
        labels = prompt_labels(document)
        try:
            reply = self._call(self._prompts.CreatePrompt, request)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                raise EntryError(f"another prompt already has request_id {request.request_id!r}") from None
            raise
        if reply.created:
            progress.add("prompts")
        else:
            progress.add("skipped")
        if labels:
            self._labels(reply.prompt.id, labels, progress, path)

    def _labels(self, prompt_id: str, labels: list[LabelSpec], progress: Progress, path: str) -> None:
        listed = self._call(self._prompts.ListLabels, labels_pb2.ListLabelsRequest(prompt_id=prompt_id))
        present = {label.name for label in listed.labels}
        for label in labels:
            if label.name in present:
                progress.add("skipped")
                continue
            where = f"{path}#labels/{label.name}"
            # Never protected: the restore is not an admin (see the module's note).
            request = labels_pb2.SetLabelRequest(
                prompt_id=prompt_id, label=label.name, version_no=label.version_no
            )
            if self._guarded(where, progress, self._call, self._prompts.SetLabel, request) is None:
                continue
            if label.protected:
                progress.error(where, "restored unprotected: only an admin protects a label")
            progress.add("labels")

    def _feedback(self, items: Any, progress: Progress) -> None:
        present = {f.request_id for f in self._reader.feedback()}
        for item in reversed(_list(items, "feedback.json")):
            if item["request_id"] in present:
                progress.add("skipped")
                continue
            choice = prompts_pb2.UserChoice.Value(f"USER_CHOICE_{str(item['user_choice']).upper()}")
            request = prompts_pb2.SubmitFeedbackRequest(
                request_id=item["request_id"],
                user_choice=choice,
                judge_winner=item["judge_winner"],
                agent_winner=item["agent_winner"],
            )
            path = f"feedback.json#{item['request_id']}"
            if self._guarded(path, progress, self._call, self._prompts.SubmitFeedback, request) is not None:
                present.add(item["request_id"])
                progress.add("feedback")

    def _scans(self, items: Any, progress: Progress) -> None:
        present = Counter(
            _scan_key(
                s.input_text, s.risk_score, enum_word(prompts_pb2.SecurityLabel, s.label, "SECURITY_LABEL_")
            )
            for s in self._reader.security_scans()
        )
        for item in reversed(_list(items, "security_scans.json")):
            key = _scan_key(item["input_text"], float(item["risk_score"]), str(item["label"]))
            if present[key] > 0:
                present[key] -= 1
                progress.add("skipped")
                continue
            request = prompts_pb2.RecordSecurityScanRequest(
                input_text=item["input_text"],
                risk_score=float(item["risk_score"]),
                label=prompts_pb2.SecurityLabel.Value(f"SECURITY_LABEL_{str(item['label']).upper()}"),
            )
            self._call(self._prompts.RecordSecurityScan, request)
            progress.add("security_scans")

    # Files and artifacts ---------------------------------------------------------------------

    def _chat_files(
        self, archive: zipfile.ZipFile, listing: Entry, files: dict[str, Entry], progress: Progress
    ) -> None:
        chat_id = listing.path.split("/")[1]
        for described in _list(self._document(archive, listing), listing.path):
            path = f"chats/{chat_id}/files/{described['filename']}"
            entry = files.pop(path, None)
            if entry is None:
                progress.error(path, "files.json describes a file the archive does not hold")
                continue
            self._guarded(path, progress, self._file, archive, entry, described, progress)

    def _file(
        self, archive: zipfile.ZipFile, entry: Entry, described: dict[str, Any], progress: Progress
    ) -> None:
        _, chat_id, _, filename = entry.path.split("/", 3)
        header = files_pb2.UploadFileHeader(
            chat_id=chat_id,
            filename=filename,
            file_type=str(described.get("file_type") or ""),
            media_type=str(described.get("media_type") or ""),
            if_none_match=True,
            expected_size_bytes=entry.size_bytes,
        )
        if described.get("description"):
            header.description = str(described["description"])
        if described.get("metadata") is not None:
            header.metadata_json = json.dumps(described["metadata"], ensure_ascii=False)
        messages = _upload_messages(header, read_entry(archive, archive.getinfo(entry.path)))
        try:
            self._files.UploadFile(messages, metadata=self._metadata(), timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "exist" in str(exc.details()).lower():
                progress.add("skipped")
                return
            raise
        progress.add("files")

    def _artifact_keys(self, chat_id: str) -> Counter[str]:
        present: Counter[str] = Counter()
        for artifact in self._reader.artifacts(chat_id):
            rows = [[cell_value(cell) for cell in row.cells] for row in artifact.rows]
            present[_artifact_key(artifact.title, list(artifact.columns), rows)] += 1
        return present

    def _artifact(
        self, archive: zipfile.ZipFile, entry: Entry, present: Counter[str], progress: Progress
    ) -> None:
        chat_id = entry.path.split("/")[1]
        document = self._document(archive, entry)
        if not isinstance(document, dict):
            raise EntryError("an artifact document must be a JSON object")
        title, columns, rows = document.get("title"), document.get("columns"), document.get("rows")
        if not isinstance(title, str) or not isinstance(columns, list) or not isinstance(rows, list):
            raise EntryError("an artifact needs a title, columns and rows")
        key = _artifact_key(title, columns, rows)
        if present[key] > 0:
            present[key] -= 1
            progress.add("skipped")
            return
        request = files_pb2.CreateArtifactRequest(
            chat_id=chat_id,
            title=title,
            columns=[str(c) for c in columns],
            rows=[_artifact_row(r) for r in rows],
        )
        self._call(self._files.CreateArtifact, request)
        progress.add("artifacts")


def prompt_request(document: Any) -> prompts_pb2.CreatePromptRequest:
    """The CreatePrompt of a prompt's json export (with its workflow); EntryError when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("fields"), dict):
        raise EntryError("not a prompt session's json export (no fields)")
    if "versions" not in document:
        raise EntryError("the export holds only the best version; export with include_workflow")
    fields, versions = document["fields"], document["versions"]
    if not isinstance(versions, list):
        raise EntryError("versions must be a list")
    versions = sorted(versions, key=lambda v: int(v.get("version_no", 0)))
    if [int(v.get("version_no", 0)) for v in versions] != list(range(1, len(versions) + 1)):
        raise EntryError("versions must be numbered 1, 2, 3… without gaps")
    if not fields.get("request_id") and not fields.get("id"):
        raise EntryError("a prompt needs its request_id or its id (the key that makes a restore idempotent)")
    request_id = fields.get("request_id") or f"takeout-{fields['id']}"
    try:
        return prompts_pb2.CreatePromptRequest(
            request_id=str(request_id),
            agent_type=str(fields.get("agent_type") or ""),
            original_text=str(fields["original_text"]),
            versions=[_new_version(v) for v in versions],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EntryError(f"a prompt field is missing or of the wrong type ({exc})") from None


@dataclass(frozen=True)
class LabelSpec:
    """A label as a takeout's prompt document lists it."""

    name: str
    version_no: int
    protected: bool


def prompt_labels(document: Any) -> list[LabelSpec]:
    """The labels of a prompt document (a takeout's; a single export has none); EntryError when
    they are not a list of {name, version_no, protected}. SetLabel checks the name and version."""
    labels = document.get("labels", [])
    if not isinstance(labels, list):
        raise EntryError("labels must be a list")
    if len(labels) > MAX_LABELS_PER_PROMPT:
        raise EntryError(
            f"a prompt holds at most {MAX_LABELS_PER_PROMPT} labels; this one lists {len(labels)}"
        )
    try:
        return [
            LabelSpec(str(label["name"]), int(label["version_no"]), label.get("protected") is True)
            for label in labels
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EntryError(f"a label needs a name and a version_no ({exc!r})") from None


def _new_version(version: dict[str, Any]) -> prompts_pb2.NewVersion:
    message = prompts_pb2.NewVersion(
        text=str(version["text"]),
        source=str(version["source"]),
        parent_version_no=int(version.get("parent_version_no") or 0),
    )
    if version.get("explanation") is not None:
        explanation = struct_pb2.Struct()
        explanation.update(version["explanation"])
        message.explanation.CopyFrom(explanation)
    if all(version.get(name) is not None for name in SCORE_FIELDS):
        message.scores.CopyFrom(prompts_pb2.Scores(**{name: float(version[name]) for name in SCORE_FIELDS}))
    return message


def _upload_messages(header: files_pb2.UploadFileHeader, chunks: Iterator[bytes]) -> Iterator[Any]:
    yield files_pb2.UploadFileRequest(header=header)
    for chunk in chunks:
        for start in range(0, len(chunk), UPLOAD_MESSAGE_BYTES):
            yield files_pb2.UploadFileRequest(chunk=chunk[start : start + UPLOAD_MESSAGE_BYTES])


def _artifact_row(row: Any) -> files_pb2.Row:
    if not isinstance(row, list):
        raise EntryError("an artifact row must be a list of cells")
    return files_pb2.Row(cells=[_cell(value) for value in row])


def _cell(value: Any) -> files_pb2.Cell:
    if value is not None and not isinstance(value, bool | int | float | str):
        raise EntryError(
            f"an artifact cell must be a string, number, boolean or null, got {type(value).__name__}"
        )
    return cell_of(value, files_pb2.Cell)


def _artifact_key(title: str, columns: list[Any], rows: list[Any]) -> str:
    canonical = json.dumps([title, columns, rows], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scan_key(text: str, risk: float, label: str) -> tuple[str, float, str]:
    return hashlib.sha256(text.encode()).hexdigest(), float(risk), label


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EntryError(f"not valid JSON ({exc})") from None


def _list(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise EntryError(f"{path} must be a JSON array of objects")
    return value
