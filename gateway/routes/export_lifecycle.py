"""REST routes of the export lifecycle: statistics, history of renderings, share links listed and
revoked. Registered before /api/v1/exports/{export_id}, which would otherwise take `stats` for an id."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from depot.exports.v1 import exports_pb2 as pb
from gateway import views_exports as views
from gateway.auth import bearer_token
from gateway.responses import Json
from gateway.routes.exports import EXPORT_ERRORS
from gateway.routes.prompts import PageSize, upstream

router = APIRouter(prefix="/api/v1", tags=["exports"])
PageToken = Query(default="", max_length=512)


@router.get("/exports/stats", responses=EXPORT_ERRORS)
async def export_stats(request: Request, token: str = Depends(bearer_token)) -> Response:
    """Per format: completed exports, content and stored bytes, cache hits and hit rate, downloads
    (those through share links apart); the caller's, or every user's for an admin."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.exports.GetExportStats, pb.GetExportStatsRequest(), token)
    return Json(views.stats(reply))


@router.get("/exports/{export_id}/history", responses=EXPORT_ERRORS)
async def export_history(
    export_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: int = PageSize,
    page_token: str = PageToken,
) -> Response:
    """Every rendering of the same source, format and options, newest first (this one included)."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.ListExportHistory,
        pb.ListExportHistoryRequest(id=export_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json({"items": [views.export(e) for e in reply.exports], "next_page_token": reply.next_page_token})


@router.get("/exports/{export_id}/links", responses=EXPORT_ERRORS)
async def list_links(
    export_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: int = PageSize,
    page_token: str = PageToken,
) -> Response:
    """The export's share links, newest first, with their download counts (ids, never tokens)."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.ListShareLinks,
        pb.ListShareLinksRequest(export_id=export_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json(
        {"items": [views.share_link(link) for link in reply.links], "next_page_token": reply.next_page_token}
    )


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
