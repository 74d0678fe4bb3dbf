"""Sources as renderer reports: a prompt session, dataset tables. Plain functions over messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from depot.prompts.v1 import prompts_pb2 as prompts_pb
from services.common.cells import cell_value
from services.common.timestamps import datetime_of
from services.exports.rendering.renderers import Cell, Report, Table

VERSION_COLUMNS = [
    "version_no",
    "parent_version_no",
    "source",
    "created_at",
    "text",
    "clarity",
    "specificity",
    "actionability",
    "structure",
    "context_use",
    "total",
    "is_best",
    "explanation",
]
SCORE_FIELDS = ("clarity", "specificity", "actionability", "structure", "context_use", "total")
# JSON numbers travel as doubles (google.protobuf.Struct); whole ones within this bound, where a
# double is exact, were integers and are written as integers, as the REST API shows them.
_EXACT_INTEGER_BOUND = 2**53


@dataclass
class RenderStats:
    """What the receipt reports about the data read: rows, and the snapshot they came from."""

    row_count: int = 0
    snapshot_time: datetime | None = None
    snapshot_revision: str = ""

    def saw_snapshot(self, when: datetime, revision: str) -> None:
        """Keeps the first snapshot seen (every source, `datasets/all` included, is read in one)."""
        if self.snapshot_time is None:
            self.snapshot_time, self.snapshot_revision = when, revision


def counted(rows: Iterable[Sequence[Cell]], stats: RenderStats) -> Iterator[Sequence[Cell]]:
    """Passes rows through, counting them into `stats`."""
    for row in rows:
        stats.row_count += 1
        yield row


def _version_row(version: prompts_pb.Version, best_version_no: int) -> list[Cell]:
    scored = version.HasField("scores")
    scores = [getattr(version.scores, name) if scored else None for name in SCORE_FIELDS]
    explanation = (
        json_object(json_format.MessageToDict(version.explanation))
        if version.HasField("explanation")
        else None
    )
    return [
        version.version_no,
        version.parent_version_no or None,
        version.source,
        datetime_of(version.create_time),
        version.text,
        *scores,
        version.version_no == best_version_no,
        explanation,
    ]


def json_object(value: Any) -> Any:
    """A JSON value as the reports write it: keys sorted (stable bytes), whole numbers as integers."""
    if isinstance(value, dict):
        return {key: json_object(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [json_object(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_INTEGER_BOUND:
        return int(value)
    return value


def best_or_latest(prompt: prompts_pb.Prompt) -> prompts_pb.Version | None:
    """The best head, or the latest version while none is scored (as the multi-agent log does)."""
    wanted = prompt.best_version_no or (prompt.versions[-1].version_no if prompt.versions else 0)
    return next((v for v in prompt.versions if v.version_no == wanted), None)


def prompt_report(
    prompt: prompts_pb.Prompt, *, include_workflow: bool, stats: RenderStats, read_time: datetime
) -> Report:
    """A prompt session: its fields, then every version (the workflow) or only the best one."""
    stats.saw_snapshot(read_time, str(prompt.revision))
    fields: list[tuple[str, Cell]] = [
        ("id", prompt.id),
        ("request_id", prompt.request_id or None),
        ("agent_type", prompt.agent_type or None),
        ("original_text", prompt.original_text),
        ("best_version_no", prompt.best_version_no or None),
        ("version_count", prompt.version_count),
        ("revision", prompt.revision),
        ("created_at", datetime_of(prompt.create_time)),
        ("updated_at", datetime_of(prompt.update_time)),
    ]
    if include_workflow:
        versions: Sequence[prompts_pb.Version] = prompt.versions
        name = "versions"
    else:
        best = best_or_latest(prompt)
        versions = [best] if best is not None else []
        name = "best_version"
    if not include_workflow and versions:
        fields.append(("final_prompt", versions[0].text))
    rows = (_version_row(v, prompt.best_version_no) for v in versions)
    title = f"Prompt session {prompt.id}" + (f" ({prompt.agent_type})" if prompt.agent_type else "")
    table = Table(name, VERSION_COLUMNS, counted(rows, stats))
    return Report(title=title, fields=fields, tables=[table], subject="prompt")


def artifact_report(artifact: Any, *, stats: RenderStats, read_time: datetime) -> Report:
    """A table artifact: its fields, then its rows as one table named after it."""
    stats.saw_snapshot(read_time, str(artifact.revision))
    name = artifact.title if artifact.title not in ("title", "fields") else f"{artifact.title} table"
    rows = ([cell_value(cell) for cell in row.cells] for row in artifact.rows)
    fields: list[tuple[str, Cell]] = [
        ("id", artifact.id),
        ("chat_id", artifact.chat_id),
        ("title", artifact.title),
        ("row_count", artifact.row_count),
        ("revision", artifact.revision),
        ("created_at", datetime_of(artifact.create_time)),
    ]
    table = Table(name, list(artifact.columns), counted(rows, stats))
    return Report(title=artifact.title, fields=fields, tables=[table], subject="artifact")
