"""The gRPC servicer of the exports service: proto in, one service call, proto out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from depot.exports.v1 import exports_pb2 as pb
from depot.exports.v1 import exports_pb2_grpc
from services.common.interceptors import current_principal
from services.exports import messages
from services.exports.lifecycle.downloads import Content, Downloads
from services.exports.lifecycle.history import History
from services.exports.service import ExportsService


class ExportsHandlers(exports_pb2_grpc.ExportsServiceServicer):
    """Each RPC is one service call; units of work are the service's (a rendering spans several)."""

    def __init__(self, service: ExportsService, history: History, downloads: Downloads) -> None:
        self._service = service
        self._history = history
        self._downloads = downloads

    async def CreateExport(self, request: pb.CreateExportRequest, context: grpc.aio.ServicerContext) -> Any:
        row, reused = await self._service.create_export(
            caller=current_principal(),
            source=request.source,
            fmt=request.format,
            options=messages.options_dict(request.options),
            timeout=context.time_remaining(),
        )
        return pb.CreateExportResponse(export=messages.export_message(row), reused=reused)

    async def GetExport(self, request: pb.GetExportRequest, context: grpc.aio.ServicerContext) -> Any:
        owner = current_principal().user_id
        wait = request.wait.ToTimedelta().total_seconds() if request.HasField("wait") else 0.0
        if wait:
            row = await self._service.wait_export(
                owner=owner, export_id=request.id, seconds=wait, timeout=context.time_remaining()
            )
        else:
            row = await self._service.get_export(owner=owner, export_id=request.id)
        return pb.GetExportResponse(export=messages.export_message(row))

    async def ListExports(self, request: pb.ListExportsRequest, context: grpc.aio.ServicerContext) -> Any:
        page = await self._service.list_exports(
            owner=current_principal().user_id,
            size=request.page_size,
            token=request.page_token,
            source=request.source,
            state=messages.STATE_NAMES.get(request.state, ""),
        )
        return pb.ListExportsResponse(
            exports=[messages.export_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def DeleteExport(self, request: pb.DeleteExportRequest, context: grpc.aio.ServicerContext) -> Any:
        await self._service.delete_export(owner=current_principal().user_id, export_id=request.id)
        return pb.DeleteExportResponse()

    async def ReadExportContent(
        self, request: pb.ReadExportContentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ReadExportContentResponse]:
        content = await self._downloads.open_content(
            owner=current_principal().user_id,
            export_id=request.id,
            if_none_match=request.if_none_match,
            accept_encoding=request.accept_encoding,
        )
        async for message in _content(content, pb.ReadExportContentResponse):
            yield message

    async def CreateShareLink(
        self, request: pb.CreateShareLinkRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        link, token = await self._downloads.create_share_link(
            owner=current_principal().user_id,
            export_id=request.export_id,
            seconds=request.expires_in_seconds,
        )
        return pb.CreateShareLinkResponse(link=messages.share_link_message(link, token))

    async def ReadSharedContent(
        self, request: pb.ReadSharedContentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ReadSharedContentResponse]:
        # Authorised by the link's token: a public method (server.py), so the shared interceptor
        # skips only the bearer token check.
        content = await self._downloads.open_shared(
            token=request.token,
            if_none_match=request.if_none_match,
            accept_encoding=request.accept_encoding,
            allow_redirect=request.allow_redirect,
        )
        async for message in _content(content, pb.ReadSharedContentResponse):
            yield message

    async def ListShareLinks(
        self, request: pb.ListShareLinksRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        page = await self._downloads.list_share_links(
            owner=current_principal().user_id,
            export_id=request.export_id,
            size=request.page_size,
            token=request.page_token,
        )
        return pb.ListShareLinksResponse(
            links=[messages.share_link_message(link) for link in page.items],
            next_page_token=page.next_page_token,
        )

    async def RevokeShareLink(
        self, request: pb.RevokeShareLinkRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        link = await self._downloads.revoke_share_link(
            owner=current_principal().user_id, export_id=request.export_id, link=request.link
        )
        return pb.RevokeShareLinkResponse(link=messages.share_link_message(link))

    async def ListExportHistory(
        self, request: pb.ListExportHistoryRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        page = await self._history.history(
            owner=current_principal().user_id,
            export_id=request.id,
            size=request.page_size,
            token=request.page_token,
        )
        return pb.ListExportHistoryResponse(
            exports=[messages.export_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def GetExportStats(
        self, request: pb.GetExportStatsRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return messages.stats_message(await self._history.stats(caller=current_principal()))


async def _content(content: Content, response: Any) -> AsyncIterator[Any]:
    """The metadata, then the chunks; the first chunk is read before anything is sent, so a
    store that cannot serve the bytes fails the call cleanly instead of mid-stream."""
    if content.chunks is None:  # not modified, or redirected
        yield response(metadata=messages.content_metadata(content))
        return
    async with contextlib.aclosing(content.chunks) as stream:
        last = await anext(stream, None)
        yield response(metadata=messages.content_metadata(content))
        async for chunk in stream:  # one chunk behind, so the last is known before it is sent
            yield messages.encoded_chunk(last)
            last = chunk
        if content.delivered is not None:
            await content.delivered()
        if last is not None:
            yield messages.encoded_chunk(last)
