"""REST routes of the files domain: chat files (streamed both ways), chats and table artifacts."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from depot.files.v1 import files_pb2 as pb
from gateway import relay_files
from gateway.auth import bearer_token
from gateway.errors import ApiError
from gateway.file_headers import byte_range, entity_tags, etag, if_range_tag
from gateway.models import files as m
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream
from services.common.limits import MAX_FILE_TYPE_CHARS


class AnyText(Convertor[str]):
    """A path parameter matching any text, "/" and newlines included, so that the files service (not a
    routing miss) says what is wrong with a name like "a/b" or "a\\nb"."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("filename", AnyText())

router = APIRouter(prefix="/api/v1", tags=["files"])
FILE = "/chats/{chat_id}/files/{filename:filename}"
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    412: {"description": "If-Match (or If-None-Match) does not hold"},
}
BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def if_match(request: Request) -> list[str]:
    """The If-Match values for the service (strong comparison); a header that names no strong tag
    (`""` aside, e.g. `,,,` or only weak tags) can match no content, so it is 412 at once."""
    tags = entity_tags(request.headers.get("if-match"))
    if tags is None:
        return []
    values = tags.strong()
    if not values:
        raise ApiError(
            412,
            "FAILED_PRECONDITION",
            "If-Match names no strong entity tag, so no content matches it",
            [{"reason": "ETAG_MISMATCH", "domain": "depot", "metadata": {}}],
        )
    return values


def if_none_match(request: Request) -> list[str]:
    """The If-None-Match values for the service: "*" or the tags, W/ ignored (weak comparison)."""
    tags = entity_tags(request.headers.get("if-none-match"))
    return [] if tags is None else tags.weak()


# What curl sends with --data-binary unless told otherwise: for a file it means "no type given".
_NOT_A_FILE_TYPE = "application/x-www-form-urlencoded"


def _media_type(request: Request) -> str:
    given = request.headers.get("content-type", "")
    return "" if given.split(";", 1)[0].strip().lower() == _NOT_A_FILE_TYPE else given


def _file_response(file: m.ChatFileOut, *, status_code: int = 200) -> Json:
    return Json(file, status_code=status_code, headers={"ETag": etag(file.sha256)})


@router.put(
    FILE,
    status_code=201,
    response_model=m.ChatFileOut,
    responses={
        **WRITE_ERRORS,
        200: {"model": m.ChatFileOut, "description": "An existing file replaced"},
        413: {"description": "Over the size limit, or over the user's quota (QUOTA_EXCEEDED)"},
    },
    openapi_extra={"requestBody": {"required": True, **BINARY}},
)
async def put_file(
    chat_id: str,
    filename: str,
    request: Request,
    token: str = Depends(bearer_token),
    file_type: str = Query(
        default="", max_length=MAX_FILE_TYPE_CHARS, description="Inferred from the name when empty."
    ),
    description: str | None = Query(default=None, description="Sets the description; absent keeps it."),
    metadata: str | None = Query(default=None, description="A JSON object; absent keeps the current one."),
) -> Response:
    """Stores the raw body as the file (Content-Type = its media type): 201 created, 200 replaced."""
    headers = request.headers
    header = pb.UploadFileHeader(
        chat_id=chat_id,
        filename=filename,
        file_type=file_type,
        media_type=_media_type(request),
        if_match=if_match(request),
        if_none_match_etags=if_none_match(request),
    )
    if description is not None:
        header.description = description
    if metadata is not None:
        header.metadata_json = metadata
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit() and len(length) <= 18:  # fits the protocol's int64
        header.expected_size_bytes = int(length)
    up = upstream(request)
    reply = await relay_files.upload(up.files, header, request, up.metadata(token))
    file = reply.file
    location = f"/api/v1/chats/{file.chat_id}/files/{quote(file.filename, safe='')}"
    response = _file_response(m.ChatFileOut.from_proto(file), status_code=201 if reply.created else 200)
    if reply.created:
        response.headers["Location"] = location
    return response


@router.get("/chats", response_model=m.ChatList, responses=ERRORS)
async def list_chats(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """The caller's chats with their file and artifact counts, most recently written first."""
    reply = await upstream(request).call(
        upstream(request).files.ListChats,
        pb.ListChatsRequest(page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.ChatList.from_proto(reply))


@router.put(
    "/users/{user_id}/quota",
    response_model=m.QuotaOut,
    responses={**ERRORS, 403: {"description": "The caller is not an admin"}},
)
async def set_user_quota(
    user_id: str, body: m.QuotaIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Admins: sets one user's storage quota for chat files (null: back to the deployment's). A user
    who has never stored anything in a chat is 404."""
    message = pb.SetUserQuotaRequest(user_id=user_id)
    if body.quota_bytes is not None:
        message.quota_bytes = body.quota_bytes
    reply = await upstream(request).call(upstream(request).files.SetUserQuota, message, token)
    return Json(m.QuotaOut.from_proto(reply))


@router.get("/chats/{chat_id}/files", response_model=m.ChatFileList, responses=ERRORS)
async def list_files(
    chat_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """The chat's files (metadata only), newest first."""
    reply = await upstream(request).call(
        upstream(request).files.ListFiles,
        pb.ListFilesRequest(chat_id=chat_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.ChatFileList.from_proto(reply))


@router.get(
    FILE,
    response_class=Response,
    responses={200: BINARY, 206: {"description": "The requested byte range"}, 416: {}, **ERRORS},
)
async def download_file(
    chat_id: str, filename: str, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """The file's bytes with Content-Type, Content-Disposition, Content-Length and ETag; `Range: bytes=` gives 206."""
    up = upstream(request)
    wanted = byte_range(request.headers.get("range"))
    if_range = if_range_tag(request.headers.get("if-range"))
    call = up.files.DownloadFile(
        relay_files.download_request(chat_id, filename, wanted, if_range),
        metadata=up.metadata(token),
        timeout=relay_files.TRANSFER_TIMEOUT_SECONDS,
    )
    return await relay_files.download(call, request)


@router.patch(FILE, response_model=m.ChatFileOut, responses=WRITE_ERRORS)
async def update_file(
    chat_id: str,
    filename: str,
    body: m.FileUpdateIn,
    request: Request,
    token: str = Depends(bearer_token),
) -> Response:
    """Sets the description and/or metadata; a null value clears it."""
    message = pb.UpdateFileRequest(
        chat_id=chat_id, filename=filename, if_match=if_match(request), if_none_match=if_none_match(request)
    )
    if "description" in body.model_fields_set:
        message.description = body.description or ""
    if "metadata" in body.model_fields_set:
        try:
            # NaN, Infinity and 1e400 (parsed as infinity) are refused, not written as null.
            message.metadata_json = json.dumps(body.metadata, ensure_ascii=False, allow_nan=False)
        except ValueError as exc:
            raise ApiError(400, "INVALID_ARGUMENT", f"metadata holds what JSON cannot carry: {exc}") from None
    reply = await upstream(request).call(upstream(request).files.UpdateFile, message, token)
    return _file_response(m.ChatFileOut.from_proto(reply.file))


@router.delete(FILE, status_code=204, responses=WRITE_ERRORS)
async def delete_file(
    chat_id: str, filename: str, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Deletes the file."""
    await upstream(request).call(
        upstream(request).files.DeleteFile,
        pb.DeleteFileRequest(
            chat_id=chat_id,
            filename=filename,
            if_match=if_match(request),
            if_none_match=if_none_match(request),
        ),
        token,
    )
    return Response(status_code=204)


@router.post(FILE, response_model=m.ReplaceOut, responses=WRITE_ERRORS)
async def replace_in_file(
    chat_id: str,
    filename: str,
    body: m.ReplaceIn,
    request: Request,
    token: str = Depends(bearer_token),
) -> Response:
    """`POST …/files/{filename}:replace` — replaces text in a UTF-8 file; answers the new ETag."""
    if not filename.endswith(":replace"):
        raise ApiError(404, "NOT_FOUND", "POST to a file takes a custom method: …/files/{filename}:replace")
    message = pb.ReplaceInFileRequest(
        chat_id=chat_id,
        filename=filename.removesuffix(":replace"),
        old_text=body.old,
        new_text=body.new,
        if_match=if_match(request),
        if_none_match=if_none_match(request),
    )
    if body.count is not None:
        message.count = body.count
    reply = await upstream(request).call(upstream(request).files.ReplaceInFile, message, token)
    return _file_response(m.ReplaceOut.from_proto(reply))


@router.delete("/chats/{chat_id}", status_code=204, responses=ERRORS)
async def delete_chat(chat_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Deletes every file and artifact of the chat."""
    await upstream(request).call(
        upstream(request).files.DeleteChat, pb.DeleteChatRequest(chat_id=chat_id), token
    )
    return Response(status_code=204)


@router.post("/chats/{chat_id}/artifacts", status_code=201, response_model=m.ArtifactOut, responses=ERRORS)
async def create_artifact(
    chat_id: str, body: m.ArtifactIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Stores a table artifact: 1–100 columns, at most 10,000 rows, string cells of at most 32,768 characters."""
    reply = await upstream(request).call(
        upstream(request).files.CreateArtifact,
        body.to_proto(chat_id),
        token,
    )
    return Json(m.ArtifactOut.from_proto(reply.artifact), status_code=201)


@router.get("/chats/{chat_id}/artifacts", response_model=m.ArtifactList, responses=ERRORS)
async def list_artifacts(
    chat_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """The chat's artifacts without their rows, newest first."""
    reply = await upstream(request).call(
        upstream(request).files.ListArtifacts,
        pb.ListArtifactsRequest(chat_id=chat_id, page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.ArtifactList.from_proto(reply))


@router.get("/artifacts/{artifact_id}", response_model=m.ArtifactOut, responses=ERRORS)
async def get_artifact(artifact_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """A table artifact with its rows."""
    reply = await upstream(request).call(
        upstream(request).files.GetArtifact, pb.GetArtifactRequest(id=artifact_id), token
    )
    return Json(m.ArtifactOut.from_proto(reply.artifact))


@router.delete("/artifacts/{artifact_id}", status_code=204, responses=ERRORS)
async def delete_artifact(artifact_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Deletes a table artifact (another user's is 404); its chat's revision changes."""
    await upstream(request).call(
        upstream(request).files.DeleteArtifact, pb.DeleteArtifactRequest(id=artifact_id), token
    )
    return Response(status_code=204)
