"""Bodies of the label, single-version read, restore, render and diff routes (gateway/routes/labels.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from depot.prompts.v1 import labels_pb2 as lpb
from depot.prompts.v1 import prompts_pb2 as pb
from gateway.models.common import INT32_MAX, Body, Out, Page, rfc3339
from gateway.models.prompts import VersionOut
from services.common.json_values import struct_dict


class LabelIn(Body):
    version_no: int = Field(ge=1, le=INT32_MAX, description="The version the label should point at.")
    protected: bool | None = Field(
        default=None, description="Only an admin moves a protected label; unset keeps it as it is."
    )


class RenderIn(Body):
    variables: dict[str, str] = Field(
        default_factory=dict, description="A value for every `{{ name }}` the text uses, and no other."
    )


class LabelOut(Out):
    label: str
    version_no: int | None
    protected: bool
    revision: int
    updated_at: str
    updated_by: str | None
    builtin: bool

    @staticmethod
    def fields(message: lpb.Label) -> dict[str, Any]:
        return {
            "label": message.name,
            "version_no": message.version_no or None,
            "protected": message.protected,
            "revision": message.revision,
            "updated_at": rfc3339(message.update_time),
            "updated_by": message.updated_by or None,
            "builtin": message.builtin,
        }


class LabelList(BaseModel):
    items: list[LabelOut]


class LabelMoveOut(Out):
    from_version_no: int | None
    to_version_no: int | None
    moved_at: str
    moved_by: str

    @staticmethod
    def fields(message: lpb.LabelMove) -> dict[str, Any]:
        return {
            "from_version_no": message.from_version_no or None,
            "to_version_no": message.to_version_no or None,
            "moved_at": rfc3339(message.move_time),
            "moved_by": message.moved_by,
        }


class LabelHistory(Page[LabelMoveOut]):
    repeated = "moves"


class VersionReadOut(Out):
    version_no: int
    text: str
    source: str
    explanation: dict[str, Any] | None
    parent_version_no: int | None
    config: dict[str, Any] | None = Field(alias="model_config", description="The settings the text is for.")
    created_at: str
    label: LabelOut | None = None

    model_config = ConfigDict(populate_by_name=True)

    @staticmethod
    def fields(message: pb.Version) -> dict[str, Any]:
        fields = VersionOut.fields(message)
        del fields["scores"]  # they may change, and a version read by number is immutable
        fields["model_config"] = (
            struct_dict(message.model_config) if message.HasField("model_config") else None
        )
        return fields


class RestoredOut(VersionReadOut):
    revision: int


class RenderOut(BaseModel):
    text: str
    version_no: int
    variables_used: list[str]


class ChangeOut(BaseModel):
    op: str = Field(description="`equal`, `insert` or `delete`.")
    text: str


class DiffOut(BaseModel):
    from_version_no: int
    to_version_no: int
    unified: str
    changes: list[ChangeOut]
    score_change: float | None
    model_config_unified: str
    from_model_config: dict[str, Any] | None
    to_model_config: dict[str, Any] | None
