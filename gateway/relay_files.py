"""Relaying file bytes between HTTP and the files service's gRPC streams, a chunk at a time.

Uploads: the request body is read as it arrives and forwarded as UploadFile messages of about
256 KiB; gRPC flow control makes the reader wait when the service is behind, so the gateway holds
about one message per upload. Downloads: the first DownloadFile message (metadata and range) is
read before the response starts, so an unknown file is a normal JSON error; after that the bytes
are streamed out, and a failure in the middle aborts the connection (the client sees fewer bytes
than the Content-Length announced, never a 200 that ends in an error message).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from fastapi import Request, Response
from starlette.responses import StreamingResponse

from depot.files.v1 import files_pb2 as pb
from gateway.errors import error_body, first_message
from gateway.file_headers import RangeRequest, content_disposition, entity_tags, etag
from gateway.responses import Json
from gateway.upload_stream import header_then_chunks

log = logging.getLogger("depot.gateway")

# A transfer's deadline: long enough for 25 MiB at modem speed, short enough to end a stuck one.
TRANSFER_TIMEOUT_SECONDS = 900.0


async def upload(
    stub: Any, header: pb.UploadFileHeader, request: Request, metadata: Any
) -> pb.UploadFileResponse:
    """Streams the request body to UploadFile as it arrives.

    When the service refuses the upload early (too large, a failed If-Match) the error is answered
    at once; the server keeps reading and dropping the rest of the body, so the client still gets it.
    """
    return await stub.UploadFile(
        header_then_chunks(pb.UploadFileRequest(header=header), request.stream(), _chunk),
        metadata=metadata,
        timeout=TRANSFER_TIMEOUT_SECONDS,
    )


def _chunk(data: bytes) -> pb.UploadFileRequest:
    return pb.UploadFileRequest(chunk=data)


def download_request(
    chat_id: str, filename: str, wanted: RangeRequest | None, if_range: str | None = None
) -> pb.DownloadFileRequest:
    """The DownloadFile request; `if_range` (the If-Range's strong tag, "" for none) conditions the range."""
    message = pb.DownloadFileRequest(chat_id=chat_id, filename=filename)
    if wanted is not None:
        if if_range is not None:
            message.if_range_sha256 = if_range
        for field, value in (
            ("range_start", wanted.start),
            ("range_end", wanted.end),
            ("range_suffix_length", wanted.suffix),
        ):
            if value is not None:
                setattr(message, field, value)
    return message


async def download(call: Any, request: Request) -> Response:
    """The response to a download: 200, 206 for a range, 304 for a current If-None-Match, 416 outside the file."""
    first, messages = await first_message(call, "files")
    header = first.header
    file = header.file
    headers = {
        "ETag": etag(file.sha256),
        "Content-Disposition": content_disposition(file.filename),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    condition = entity_tags(request.headers.get("if-none-match"))
    current = condition.weak() if condition is not None else []  # If-None-Match compares weakly
    if file.sha256 in current or "*" in current:
        call.cancel()
        return Response(status_code=304, headers=headers)
    if header.range_not_satisfiable:
        call.cancel()
        body = error_body("OUT_OF_RANGE", f"the range lies outside the file's {file.size_bytes} bytes")
        return Json(body, status_code=416, headers={**headers, "Content-Range": f"bytes */{file.size_bytes}"})
    headers["Content-Type"] = file.media_type
    headers["Content-Length"] = str(header.length)
    if header.partial:
        last = header.offset + header.length - 1
        headers["Content-Range"] = f"bytes {header.offset}-{last}/{file.size_bytes}"
    return StreamingResponse(
        _chunks(call, messages, file.filename), status_code=206 if header.partial else 200, headers=headers
    )


async def _chunks(call: Any, messages: AsyncIterator[Any], filename: str) -> AsyncIterator[bytes]:
    try:
        async for message in messages:
            yield message.chunk
    except grpc.aio.AioRpcError as exc:
        log.warning("download_interrupted", extra={"grpc_code": exc.code().name, "file_name": filename})
        raise
    finally:
        call.cancel()  # a client that went away stops the upstream stream too
