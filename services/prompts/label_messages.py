"""Conversions between protobuf messages and the labels, version reads and diffs of the prompts domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from depot.prompts.v1 import labels_pb2 as lpb
from depot.prompts.v1 import prompts_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.timestamps import datetime_of, timestamp
from services.prompts.labels import LabelView, VersionRef
from services.prompts.messages import version_message
from services.prompts.version_reads import DiffView

DIFF_OPS = {"equal": lpb.DIFF_OP_EQUAL, "insert": lpb.DIFF_OP_INSERT, "delete": lpb.DIFF_OP_DELETE}


def version_ref(ref: lpb.VersionRef, field: str) -> VersionRef:
    """A number or a label's name; INVALID_ARGUMENT when the reference names neither."""
    kind = ref.WhichOneof("ref")
    if kind == "version_no":
        return int(ref.version_no)
    if kind == "label":
        return str(ref.label)
    raise InvalidArgument(f"{field} must give a version_no or a label", field=field)


def as_of(request: lpb.GetVersionRequest) -> datetime | None:
    return datetime_of(request.as_of) if request.HasField("as_of") else None


def label_message(view: LabelView) -> lpb.Label:
    return lpb.Label(
        name=view.name,
        version_no=view.version_no or 0,
        protected=view.protected,
        revision=view.revision,
        update_time=timestamp(view.updated_at),
        updated_by=view.updated_by,
        builtin=view.builtin,
    )


def move_message(row: Any) -> lpb.LabelMove:
    return lpb.LabelMove(
        from_version_no=row.from_version_no or 0,
        to_version_no=row.to_version_no or 0,
        move_time=timestamp(row.moved_at),
        moved_by=row.moved_by,
    )


def read_version_message(row: Any) -> pb.Version:
    """A version as GetVersion and RestoreVersion return it: without scores, which may change."""
    message = version_message(row)
    message.ClearField("scores")
    if row.model_config is not None:
        message.model_config.update(row.model_config)
    return message


def diff_message(view: DiffView) -> lpb.DiffVersionsResponse:
    message = lpb.DiffVersionsResponse(
        from_version_no=view.from_version_no,
        to_version_no=view.to_version_no,
        unified=view.diff.unified,
        changes=[lpb.DiffChange(op=DIFF_OPS[c.op], text=c.text) for c in view.diff.changes],
        model_config_unified=view.diff.model_config_unified,
    )
    if view.score_change is not None:
        message.score_change = view.score_change
    if view.from_model_config is not None:
        message.from_model_config.update(view.from_model_config)
    if view.to_model_config is not None:
        message.to_model_config.update(view.to_model_config)
    return message
