"""REST routes of labels, single-version reads, restore, render and diffs (DESIGN.md "Labels, diffs
and events"); their bodies are in gateway/models/labels.py.

A version read by number never changes (its text, source, explanation and model config are fixed;
scores are left out because they may change), so it is sent `immutable` with a strong ETag; read
through a label it carries the label's revision as its ETag, and If-None-Match answers 304.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from depot.prompts.v1 import labels_pb2 as lpb
from depot.prompts.v1 import prompts_pb2 as pb
from gateway.auth import bearer_token
from gateway.errors import ApiError
from gateway.file_headers import entity_tags
from gateway.models.common import INT32_MAX
from gateway.models.labels import (
    DiffOut,
    LabelHistory,
    LabelIn,
    LabelList,
    LabelOut,
    RenderIn,
    RenderOut,
    RestoredOut,
    VersionReadOut,
)
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream
from services.common.json_values import struct_dict
from services.common.limits import LABEL_NAME_PATTERN, MAX_LABEL_CHARS
from services.common.timestamps import timestamp

router = APIRouter(prefix="/api/v1", tags=["labels"])
WRITE_ERRORS = {**ERRORS, 403: ERRORS[400], 412: ERRORS[400]}
LABEL = Path(
    max_length=MAX_LABEL_CHARS,
    description=f"`{LABEL_NAME_PATTERN}`, never all digits; `best`, `latest` built in.",
)
VERSION = Path(max_length=MAX_LABEL_CHARS, description="A version number (1, 2, 3…) or a label's name.")
# A year: a version read by number never changes; `private`, since it is one user's.
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
DIFF_OPS = {lpb.DIFF_OP_EQUAL: "equal", lpb.DIFF_OP_INSERT: "insert", lpb.DIFF_OP_DELETE: "delete"}


def version_ref(value: str) -> lpb.VersionRef:
    """Digits name a version number, anything else a label (a label is never all digits)."""
    if value.isascii() and value.isdigit():
        number = int(value)
        if not 1 <= number <= INT32_MAX:
            raise ApiError(404, "NOT_FOUND", f"no version {value}")
        return lpb.VersionRef(version_no=number)
    return lpb.VersionRef(label=value)


def revision_precondition(if_match: str | None) -> int:
    """If-Match as a label's revision (`"12"` or `12`); 0 when absent."""
    tags = entity_tags(if_match)
    if tags is None:
        return 0
    values = tags.strong()
    if len(values) != 1 or not values[0].isdigit() or values[0] == "0" or int(values[0]) >= 2**63:
        raise ApiError(400, "INVALID_ARGUMENT", 'If-Match must be one label revision, as in If-Match: "12"')
    return int(values[0])


def parse_as_of(value: str | None) -> datetime | None:
    """An RFC 3339 time with its offset (`2026-01-02T03:04:05Z`), or 400."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            f"as_of must be an RFC 3339 time with an offset, like 2026-01-02T03:04:05Z, got {value[:64]!r}",
        )
    return parsed


def label_json(message: lpb.Label) -> dict[str, Any]:
    return LabelOut.from_proto(message).model_dump()


@router.put("/prompts/{prompt_id}/labels/{label}", response_model=LabelOut, responses=WRITE_ERRORS)
async def set_label(
    prompt_id: str,
    body: LabelIn,
    request: Request,
    label: str = LABEL,
    if_match: str | None = Header(default=None, description="The label's revision it must still have."),
    token: str = Depends(bearer_token),
) -> Response:
    """Points a label at a version; the move is recorded in the label's history."""
    message = lpb.SetLabelRequest(
        prompt_id=prompt_id,
        label=label,
        version_no=body.version_no,
        expected_revision=revision_precondition(if_match),
    )
    if body.protected is not None:
        message.protected = body.protected
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.SetLabel, message, token)
    return Json(label_json(reply.label), headers={"ETag": f'"{reply.label.revision}"'})


@router.get("/prompts/{prompt_id}/labels", response_model=LabelList, responses=ERRORS)
async def list_labels(prompt_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """The prompt's labels: `best` and `latest` first, then the others by name."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.ListLabels, lpb.ListLabelsRequest(prompt_id=prompt_id), token)
    return Json({"items": [label_json(x) for x in reply.labels]})


@router.delete("/prompts/{prompt_id}/labels/{label}", status_code=204, responses=WRITE_ERRORS)
async def delete_label(
    prompt_id: str,
    request: Request,
    label: str = LABEL,
    if_match: str | None = Header(default=None, description="The label's revision it must still have."),
    token: str = Depends(bearer_token),
) -> Response:
    """Deletes a label; its history stays, ending in a move to nothing."""
    gateway = upstream(request)
    message = lpb.DeleteLabelRequest(
        prompt_id=prompt_id, label=label, expected_revision=revision_precondition(if_match)
    )
    await gateway.call(gateway.prompts.DeleteLabel, message, token)
    return Response(status_code=204)


@router.get("/prompts/{prompt_id}/labels/{label}/history", response_model=LabelHistory, responses=ERRORS)
async def label_history(
    prompt_id: str,
    request: Request,
    label: str = LABEL,
    page_size: PageSize = 0,
    page_token: str = PageToken,
    token: str = Depends(bearer_token),
) -> Response:
    """The label's moves, newest first: `{from_version_no, to_version_no, moved_at, moved_by}`."""
    gateway = upstream(request)
    message = lpb.ListLabelHistoryRequest(
        prompt_id=prompt_id, label=label, page_size=page_size, page_token=page_token
    )
    reply = await gateway.call(gateway.prompts.ListLabelHistory, message, token)
    return Json(LabelHistory.from_proto(reply).model_dump())


def _version_json(message: pb.Version) -> dict[str, Any]:
    return VersionReadOut.from_proto(message).model_dump(by_alias=True, exclude={"label"})


@router.get(
    "/prompts/{prompt_id}/versions/{version}", response_model=VersionReadOut, responses={**ERRORS, 304: {}}
)
async def get_version(
    prompt_id: str,
    request: Request,
    version: str = VERSION,
    as_of: str | None = Query(
        default=None, max_length=64, description="RFC 3339: where a label pointed then."
    ),
    if_none_match: str | None = Header(default=None),
    token: str = Depends(bearer_token),
) -> Response:
    """One version by number (immutable, strong ETag) or by label (the label's revision as ETag)."""
    message = lpb.GetVersionRequest(prompt_id=prompt_id, version=version_ref(version))
    moment = parse_as_of(as_of)
    if moment is not None:
        message.as_of.CopyFrom(timestamp(moment))
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.GetVersion, message, token)
    body = _version_json(reply.version)
    if reply.HasField("label"):
        body["label"] = label_json(reply.label)
        etag = f'"{"b" if reply.label.builtin else "l"}{reply.label.revision}"'
        headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    elif moment is None:
        headers = {"ETag": f'"{prompt_id}.{reply.version.version_no}"', "Cache-Control": IMMUTABLE}
    else:
        headers = {"Cache-Control": REVALIDATE}
    tags = entity_tags(if_none_match)
    if "ETag" in headers and tags is not None and (tags.any or headers["ETag"].strip('"') in tags.weak()):
        return Response(status_code=304, headers=headers)
    return Json(body, headers=headers)


@router.post(
    "/prompts/{prompt_id}/versions/{version}:restore",
    status_code=201,
    response_model=RestoredOut,
    responses=ERRORS,
)
async def restore_version(
    prompt_id: str, request: Request, version: str = VERSION, token: str = Depends(bearer_token)
) -> Response:
    """A new version with the old one's text, explanation and model config; its parent is the old one."""
    gateway = upstream(request)
    message = lpb.RestoreVersionRequest(prompt_id=prompt_id, version=version_ref(version))
    reply = await gateway.call(gateway.prompts.RestoreVersion, message, token)
    return Json({**_version_json(reply.version), "revision": reply.revision}, status_code=201)


@router.post("/prompts/{prompt_id}/versions/{version}:render", response_model=RenderOut, responses=ERRORS)
async def render_version(
    prompt_id: str,
    body: RenderIn,
    request: Request,
    version: str = VERSION,
    token: str = Depends(bearer_token),
) -> Response:
    """The version's text with each `{{ name }}` replaced; 400 naming any missing or unknown variable."""
    gateway = upstream(request)
    message = lpb.RenderVersionRequest(
        prompt_id=prompt_id, version=version_ref(version), variables=body.variables
    )
    reply = await gateway.call(gateway.prompts.RenderVersion, message, token)
    return Json(
        {"text": reply.text, "version_no": reply.version_no, "variables_used": list(reply.variables_used)}
    )


@router.get("/prompts/{prompt_id}/diff", response_model=DiffOut, responses=ERRORS)
async def diff_versions(
    prompt_id: str,
    request: Request,
    from_: str = Query(
        alias="from", max_length=MAX_LABEL_CHARS, description="The older version: a number or a label."
    ),
    to: str = Query(max_length=MAX_LABEL_CHARS, description="The newer version: a number or a label."),
    token: str = Depends(bearer_token),
) -> Response:
    """A unified line diff and word-level changes between two versions, with the score change."""
    gateway = upstream(request)
    message = lpb.DiffVersionsRequest(prompt_id=prompt_id, to=version_ref(to))
    getattr(message, "from").CopyFrom(version_ref(from_))
    reply = await gateway.call(gateway.prompts.DiffVersions, message, token)
    return Json(
        {
            "from_version_no": reply.from_version_no,
            "to_version_no": reply.to_version_no,
            "unified": reply.unified,
            "changes": [{"op": DIFF_OPS.get(c.op, "equal"), "text": c.text} for c in reply.changes],
            "score_change": reply.score_change if reply.HasField("score_change") else None,
            "model_config_unified": reply.model_config_unified,
            "from_model_config": struct_dict(reply.from_model_config)
            if reply.HasField("from_model_config")
            else None,
            "to_model_config": struct_dict(reply.to_model_config)
            if reply.HasField("to_model_config")
            else None,
        }
    )
