"""Conversions between protobuf messages and the rows and inputs of the prompts domain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from google.protobuf import struct_pb2

from depot.prompts.v1 import prompts_pb2 as pb
from services.common.cells import cell_of
from services.common.json_values import check_json_value, struct_dict
from services.common.limits import MAX_MODEL_CONFIG_BYTES
from services.common.timestamps import timestamp
from services.prompts import rules
from services.prompts.fine_tune import FineTune, fine_tune_options
from services.prompts.models import SCORE_CRITERIA

# A message of dataset rows holds at most this many rows and, unless one row is larger, this many
# bytes: a stream never depends on one message holding many large rows.
ROWS_PER_MESSAGE = 500
ROW_BATCH_BYTES = 1024 * 1024

USER_CHOICES = {
    pb.USER_CHOICE_ORIGINAL: "original",
    pb.USER_CHOICE_SINGLE: "single",
    pb.USER_CHOICE_MULTI: "multi",
}
USER_CHOICE_ENUMS = {v: k for k, v in USER_CHOICES.items()}
LABELS = {
    pb.SECURITY_LABEL_SAFE: "safe",
    pb.SECURITY_LABEL_SUSPICIOUS: "suspicious",
    pb.SECURITY_LABEL_MALICIOUS: "malicious",
}
LABEL_ENUMS = {v: k for k, v in LABELS.items()}
BASES = {pb.EFFECTIVENESS_BASIS_SCORES: "scores", pb.EFFECTIVENESS_BASIS_FEEDBACK: "feedback"}
DATASETS = {
    pb.DATASET_MULTI_AGENT: "multi-agent",
    pb.DATASET_TEMPORAL: "temporal",
    pb.DATASET_FEEDBACK: "feedback",
    pb.DATASET_EFFECTIVENESS: "effectiveness",
    pb.DATASET_FINE_TUNE: "fine-tune",
}
# A dataset column's kind (datasets.py) as the type the header names.
COLUMN_TYPES = {
    "text": pb.COLUMN_TYPE_STRING,
    "id": pb.COLUMN_TYPE_STRING,
    "integer": pb.COLUMN_TYPE_INTEGER,
    "double": pb.COLUMN_TYPE_DOUBLE,
    "bool": pb.COLUMN_TYPE_BOOLEAN,
    "time": pb.COLUMN_TYPE_TIMESTAMP,
}
FINE_TUNE_SHAPES = {
    pb.FINE_TUNE_SHAPE_UNSPECIFIED: "chat",
    pb.FINE_TUNE_SHAPE_CHAT: "chat",
    pb.FINE_TUNE_SHAPE_PREFERENCE: "preference",
}

ENCODINGS = {pb.DATASET_ENCODING_ROWS: "rows", pb.DATASET_ENCODING_CSV: "csv"}


def scores_message(row: Any) -> pb.Scores:
    return pb.Scores(**{c: getattr(row, c) for c in SCORE_CRITERIA}, total=row.total)


def version_message(row: Any) -> pb.Version:
    message = pb.Version(
        version_no=row.version_no,
        text=row.text,
        source=row.source,
        parent_version_no=row.parent_version_no or 0,
        create_time=timestamp(row.created_at),
    )
    if row.explanation is not None:
        message.explanation.update(row.explanation)
    if getattr(row, "model_config", None) is not None:  # rows of a read carry it; a create's never have one
        message.model_config.update(row.model_config)
    if getattr(row, "total", None) is not None:
        message.scores.CopyFrom(scores_message(row))
    return message


def prompt_message(row: Any, versions: Any = ()) -> pb.Prompt:
    return pb.Prompt(
        id=str(row.id),
        owner=row.owner,
        request_id=row.request_id or "",
        agent_type=row.agent_type or "",
        original_text=row.original_text,
        revision=row.revision,
        best_version_no=row.best_version_no or 0,
        version_count=row.version_count,
        versions=[version_message(v) for v in versions],
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def feedback_message(row: Any) -> pb.Feedback:
    return pb.Feedback(
        id=str(row.id),
        request_id=row.request_id,
        prompt_id=str(row.prompt_id),
        user_choice=USER_CHOICE_ENUMS[row.user_choice],
        judge_winner=row.judge_winner,
        agent_winner=row.agent_winner,
        judge_correct=row.judge_correct,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def scan_message(row: Any) -> pb.SecurityScan:
    return pb.SecurityScan(
        id=str(row.id),
        input_text=row.input_text,
        risk_score=row.risk_score,
        label=LABEL_ENUMS[row.label],
        create_time=timestamp(row.created_at),
    )


def agent_stats_message(row: dict[str, Any]) -> pb.AgentStats:
    return pb.AgentStats(
        agent=row["agent"],
        wins=row["wins"],
        total=row["total"],
        win_rate=row["win_rate"],
        avg_score=row["avg_score"],
        judge_agreement=row["judge_agreement"],
        judge_wins=row["judge_wins"] or 0,
    )


def new_version(message: pb.NewVersion) -> rules.NewVersion:
    has_explanation = message.HasField("explanation")
    return rules.NewVersion(
        text=message.text,
        source=message.source,
        explanation=_struct_dict(message.explanation) if has_explanation else None,
        parent_version_no=message.parent_version_no or None,
        scores=score_set(message.scores) if message.HasField("scores") else None,
        # Encoded, an explanation can be several times its JSON (a number takes 9 bytes or more).
        # An appended version's model config counts toward the prompt's size the same way.
        explanation_bytes=(message.explanation.ByteSize() if has_explanation else 0)
        + message.model_config.ByteSize(),
    )


def model_config(message: pb.NewVersion) -> dict[str, Any] | None:
    """A new version's model config, checked against the bounds of free-form JSON; None when unset."""
    if not message.HasField("model_config"):
        return None
    config = _struct_dict(message.model_config)
    check_json_value(config, field="version.model_config", max_bytes=MAX_MODEL_CONFIG_BYTES)
    return config


def fine_tune(message: pb.FineTuneOptions) -> FineTune:
    """The fine-tune dataset's options as sent, checked (ignored by every other dataset)."""
    return fine_tune_options(
        min_total=message.min_total,
        preferred_only=message.preferred_only,
        best_only=message.best_only,
        agents=list(message.agents),
        shape=FINE_TUNE_SHAPES.get(message.shape, str(message.shape)),
    )


def score_set(message: pb.Scores, field: str = "scores") -> rules.ScoreSet:
    return rules.check_scores({c: getattr(message, c) for c in SCORE_CRITERIA}, field)


def _struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return struct_dict(struct)  # never raises on NaN or an infinity: the rules refuse them


def row_batches(rows: Iterable[Sequence[Any]]) -> Iterator[pb.RowBatch]:
    """Dataset rows as messages, each within ROWS_PER_MESSAGE rows and ROW_BATCH_BYTES."""
    batch: list[pb.Row] = []
    size = 0
    for values in rows:
        row = pb.Row(cells=[cell_of(v, pb.Cell) for v in values])
        row_size = row.ByteSize()
        if batch and (len(batch) >= ROWS_PER_MESSAGE or size + row_size > ROW_BATCH_BYTES):
            yield pb.RowBatch(rows=batch)
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield pb.RowBatch(rows=batch)
