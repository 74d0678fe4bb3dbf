"""REST routes of the export lifecycle: statistics, history of renderings, share links listed and
revoked. Registered before /api/v1/exports/{export_id}, which would otherwise take `stats` for an id."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from depot.exports.v1 import exports_pb2 as pb
from gateway.auth import bearer_token
from gateway.models import exports as m
from gateway.responses import Json
from gateway.routes.exports import EXPORT_ERRORS
from gateway.routes.shared import PageSize, PageToken, upstream

router = APIRouter(prefix="/api/v1", tags=["exports"])


@router.get("/exports/stats", response_model=m.StatsOut, responses=EXPORT_ERRORS)
async def export_stats(request: Request, token: str = Depends(bearer_token)) -> Response:
    """Per format: completed exports, content and stored bytes, cache hits and hit rate, downloads
    (those through share links apart); the caller's, or every user's for an admin."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.exports.GetExportStats, pb.GetExportStatsRequest(), token)
    return Json(m.StatsOut.from_proto(reply))


@router.get("/exports/{export_id}/history", response_model=m.ExportList, responses=EXPORT_ERRORS)
async def export_history(
    export_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """Every rendering of the same source, format and options, newest first (this one included)."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.ListExportHistory,
        pb.ListExportHistoryRequest(id=export_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.ExportList.from_proto(reply))


@router.get("/exports/{export_id}/links", response_model=m.ShareLinkList, responses=EXPORT_ERRORS)
async def list_links(
    export_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """The export's share links, newest first, with their download counts (ids, never tokens)."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.ListShareLinks,
        pb.ListShareLinksRequest(export_id=export_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.ShareLinkList.from_proto(reply))


@router.delete("/exports/{export_id}/links/{link}", status_code=204, responses=EXPORT_ERRORS)
async def revoke_link(
    export_id: str, link: str, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Revokes a link, named by its token or its id: from then on /s/{token} is 404."""
    gateway = upstream(request)
    await gateway.call(
        gateway.exports.RevokeShareLink, pb.RevokeShareLinkRequest(export_id=export_id, link=link), token
    )
    return Response(status_code=204)
