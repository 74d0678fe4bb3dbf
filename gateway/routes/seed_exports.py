"""The export routes the seed applications' clients already call, with their response shapes
(seeds 000, 001, 002 and 004), on the same handlers as /api/v1/exports."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from depot.exports.v1 import exports_pb2 as pb
from depot.prompts.v1 import prompts_pb2
from gateway.auth import bearer_token
from gateway.errors import ApiError
from gateway.export_paths import export_id_of
from gateway.models import exports as m
from gateway.models.common import rfc3339
from gateway.responses import Json
from gateway.routes.exports import (
    DOWNLOAD,
    EXPORT_ERRORS,
    create,
    download,
    link_url,
    share_link,
    until_ended,
)
from gateway.routes.shared import upstream

router = APIRouter(tags=["seed compatibility"])
MAX_LISTED = 1000  # seed 000's list has no paging; this many exports of one session at most
SHARE_SECONDS = 3600  # seed 004's links open in a new tab for an hour


def absolute(request: Request, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


@router.get("/api/v1/prompts/{session_id}/export/download", response_class=Response, responses=DOWNLOAD)
async def seed_download_prompt_export(
    session_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    format: str = Query(default="json", max_length=16, description="json, yaml, markdown, text, …"),
    include_workflow: bool = True,
) -> Response:
    """Seed 000: renders the prompt session (or reuses the stored rendering), then streams it."""
    reply = await create(
        request,
        token,
        source=f"prompts/{session_id}",
        fmt=format,
        options={"include_workflow": include_workflow},
    )
    return await download(request, token, reply.export.id)


@router.get(
    "/api/v1/prompts/{session_id}/exports", response_model=m.SeedPromptExportsOut, responses=EXPORT_ERRORS
)
async def seed_list_prompt_exports(
    session_id: str, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Seed 000: every stored export of the session, newest first, as `{session_id, exports, total}`."""
    gateway = upstream(request)
    prompt = (
        await gateway.call(gateway.prompts.GetPrompt, prompts_pb2.GetPromptRequest(id=session_id), token)
    ).prompt
    reply = await gateway.call(
        gateway.exports.ListExports,
        pb.ListExportsRequest(
            source=f"prompts/{prompt.id}", state=pb.EXPORT_STATE_COMPLETED, page_size=MAX_LISTED
        ),
        token,
    )
    exports = [
        m.SeedPromptExportOut(
            id=e.id,
            session_id=prompt.id,
            agent_type=prompt.agent_type or None,
            format=e.format,
            file_size=f"{e.size_bytes} bytes",
            size_bytes=e.size_bytes,
            created_at=rfc3339(e.create_time),
            download_url=absolute(request, m.content_path(e.id)),
        )
        for e in reply.exports
    ]
    return Json(m.SeedPromptExportsOut(session_id=prompt.id, exports=exports, total=len(exports)))


async def _dataset_csv(
    request: Request, token: str, dataset: str, csv_mode: str, all_users: bool
) -> Response:
    """Seeds 001/002: a dataset as CSV, answered with a download URL where the seeds had a server path."""
    reply = await create(
        request,
        token,
        source=f"datasets/{dataset}",
        fmt="csv",
        options={"csv_mode": csv_mode, "all_users": all_users},
    )
    export = await until_ended(request, token, reply.export)  # datasets render as jobs
    url = absolute(request, m.content_path(export.id))
    return Json(
        m.SeedDatasetCsvOut(
            success=True,
            records=export.receipt.row_count,
            export_id=export.id,
            download_url=url,
            csv_path=url,
            reused=reply.reused,
        )
    )


CsvMode = Query(default="safe", description="Formula neutralisation")


@router.post("/api/storage/export-multi-agent", response_model=m.SeedDatasetCsvOut, responses=EXPORT_ERRORS)
async def seed_export_multi_agent(
    request: Request,
    token: str = Depends(bearer_token),
    csv_mode: m.CsvMode = CsvMode,
    all_users: bool = False,
) -> Response:
    """Seed 001: the multi-agent log (per-agent scores) as CSV."""
    return await _dataset_csv(request, token, "multi-agent", csv_mode, all_users)


@router.post("/api/storage/export-temporal", response_model=m.SeedDatasetCsvOut, responses=EXPORT_ERRORS)
async def seed_export_temporal(
    request: Request,
    token: str = Depends(bearer_token),
    csv_mode: m.CsvMode = CsvMode,
    all_users: bool = False,
) -> Response:
    """Seed 001: every version with its scores, as CSV."""
    return await _dataset_csv(request, token, "temporal", csv_mode, all_users)


@router.post("/api/storage/export-all", response_model=m.SeedDatasetCsvOut, responses=EXPORT_ERRORS)
async def seed_export_all(
    request: Request,
    token: str = Depends(bearer_token),
    csv_mode: m.CsvMode = CsvMode,
    all_users: bool = False,
) -> Response:
    """Seed 001: every dataset, as a zip of CSV files."""
    return await _dataset_csv(request, token, "all", csv_mode, all_users)


@router.post("/api/artifacts/export", response_model=m.SeedArtifactExportOut, responses=EXPORT_ERRORS)
async def seed_export_artifact(
    body: m.ArtifactExportIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Seed 004: renders a table artifact and answers with a link that works without a token for an hour."""
    reply = await create(request, token, source=f"artifacts/{body.artifactId}", fmt=body.format, options={})
    export = await until_ended(request, token, reply.export)  # a large artifact renders as a job
    link = await share_link(request, token, export.id, SHARE_SECONDS)
    return Json(
        m.SeedArtifactExportOut(
            id=export.id,
            artifactId=body.artifactId,
            format=export.format,
            url=link_url(request, link.token),
            status=m.STATES.name(export.state),
            createdAt=rfc3339(export.create_time),
            expiresAt=rfc3339(link.expire_time),
        )
    )


@router.get("/api/exports/{path:path}", response_class=Response, responses=DOWNLOAD)
async def seed_export_file(path: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Seed 004: an export's bytes by file path (`exports/<user>/<id>.<ext>`, `exports/<id>`, `<id>`).
    Paths that could leave a directory (`..`, absolute, NUL, backslash, encoded or not) are 400."""
    export_id = export_id_of(path)
    if export_id is None:
        raise ApiError(404, "NOT_FOUND", "no export at that path")
    return await download(request, token, export_id)
