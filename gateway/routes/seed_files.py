"""The chat-file routes seed 003's client already calls, with its response shapes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from depot.files.v1 import files_pb2 as pb
from gateway.auth import bearer_token
from gateway.models import files as m
from gateway.responses import Json
from gateway.routes import files
from gateway.routes.shared import ERRORS, upstream

router = APIRouter(tags=["seed compatibility"])
SEED_PAGE_SIZE = 1000


@router.get("/api/chat-files/{chat_id}", response_model=m.ChatFiles, responses=ERRORS)
async def seed_list_files(chat_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Seed 003: every file of the chat as a bare JSON array of metadata, newest first."""
    gateway = upstream(request)
    items: list[m.ChatFileOut] = []
    token_ = ""
    while True:
        reply = await gateway.call(
            gateway.files.ListFiles,
            pb.ListFilesRequest(chat_id=chat_id, page_size=SEED_PAGE_SIZE, page_token=token_),
            token,
        )
        items += m.ChatFileList.from_proto(reply).items
        token_ = reply.next_page_token
        if not token_:
            return Json(m.ChatFiles(items))


router.add_api_route(
    "/api/chat-files/{chat_id}/download/{filename:filename}",
    files.download_file,
    methods=["GET"],
    response_class=Response,
    responses={200: files.BINARY, **ERRORS},
    summary="Seed 003: download a chat file (same as GET /api/v1/chats/{chat_id}/files/{filename})",
)
router.add_api_route(
    "/api/chat-files/{chat_id}/{filename:filename}",
    files.delete_file,
    methods=["DELETE"],
    status_code=204,
    responses=files.WRITE_ERRORS,
    summary="Seed 003: delete a chat file (same as DELETE /api/v1/chats/{chat_id}/files/{filename})",
)
