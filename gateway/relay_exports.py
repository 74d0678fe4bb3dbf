"""Relaying export bytes from a server-streaming gRPC call to an HTTP response, as they come.

The first message (the metadata) is read before the response starts, so a missing or
unfinished export is a normal JSON error. After that the status line is sent; a failure in the
middle aborts the connection, and the client sees fewer bytes than the Content-Length announced
— never a 200 whose body ends in an error message.

Text exports are stored gzip-compressed: a client that accepts gzip gets them as stored with
`Content-Encoding: gzip`, any other the decoded bytes; the ETag (the content's sha256) is the same
either way and `Vary: Accept-Encoding` keeps caches from mixing the two. Exports ignore Range
(`Accept-Ranges: none`): a range of gzip bytes means nothing to a client that asked for the
content, and exports are re-rendered rather than resumed. When the service answers with a
redirect (a share link on the S3 store), the client is sent to that short-lived URL.

Content of up to SMALL_CONTENT_BYTES is read whole before it is answered, in one write: a small
download is dominated by its fixed costs, and streaming adds one send per piece plus the
end-of-body one; a failure while reading it is then a normal JSON error too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import grpc
from fastapi import Request, Response
from starlette.responses import StreamingResponse

from depot.exports.v1 import exports_pb2 as pb
from gateway.errors import first_message, from_grpc

SMALL_CONTENT_BYTES = 64 * 1024
_CHUNK_TAG = b"\x12"  # field 2 (`chunk` of both content responses), length-delimited


class ContentStub:
    """The two content streams of the exports service, each chunk handed over where gRPC put it.

    Parsed by protobuf, a chunk is copied into the message and again when `.chunk` is read: two
    copies of every byte of a download. Here a chunk message is recognised by its tag and its bytes
    are a view of the received buffer; the metadata message is parsed as usual.
    """

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.ReadExportContent = channel.unary_stream(
            "/depot.exports.v1.ExportsService/ReadExportContent",
            request_serializer=pb.ReadExportContentRequest.SerializeToString,
            response_deserializer=_content_part(pb.ReadExportContentResponse),
        )
        self.ReadSharedContent = channel.unary_stream(
            "/depot.exports.v1.ExportsService/ReadSharedContent",
            request_serializer=pb.ReadSharedContentRequest.SerializeToString,
            response_deserializer=_content_part(pb.ReadSharedContentResponse),
        )


def _content_part(message_type: Any) -> Callable[[bytes], Any]:
    """A deserializer giving a chunk message's bytes as a memoryview, any other message parsed."""

    def deserialize(data: bytes) -> Any:
        if data[:1] == _CHUNK_TAG:
            length, start = _varint(data, 1)
            if start + length == len(data):  # the chunk is the whole message
                return memoryview(data)[start:]
        return message_type.FromString(data)

    return deserialize


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """The base-128 varint at `at` and the index after it (at most 10 bytes, as protobuf reads)."""
    value = shift = 0
    for index in range(at, min(at + 10, len(data))):
        value |= (data[index] & 0x7F) << shift
        if data[index] < 0x80:
            return value, index + 1
        shift += 7
    return -1, len(data)  # truncated: never equal to a length, so protobuf parses it (and fails)


def _bytes_of(message: Any) -> Any:
    return message if isinstance(message, memoryview) else message.chunk


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def relay(call: Any, request: Request) -> Response:
    """The bytes of a content stream (metadata first, then chunks) as a streamed download."""
    first, messages = await first_message(call, "exports")
    meta = first.metadata
    etag = f'"{meta.sha256}"'
    headers = {
        "ETag": etag,
        "Content-Disposition": content_disposition(meta.filename),
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
        "Accept-Ranges": "none",
    }
    if meta.not_modified:
        return Response(status_code=304, headers=headers)
    if meta.redirect_url:
        call.cancel()
        return Response(
            status_code=302,
            headers={"Location": meta.redirect_url, "Cache-Control": "no-store", "Vary": "Accept-Encoding"},
        )
    if meta.content_encoding:
        headers["Content-Encoding"] = meta.content_encoding
    if meta.size_bytes <= SMALL_CONTENT_BYTES:
        return Response(await _whole(call, messages), media_type=meta.media_type, headers=headers)
    headers["Content-Length"] = str(meta.size_bytes)
    return StreamingResponse(_chunks(call, messages), media_type=meta.media_type, headers=headers)


async def _whole(call: Any, messages: AsyncIterator[Any]) -> bytes:
    try:
        return b"".join([_bytes_of(message) async for message in messages])
    except grpc.aio.AioRpcError as exc:
        raise from_grpc(exc) from None
    finally:
        call.cancel()


async def _chunks(call: Any, messages: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        async for message in messages:
            yield _bytes_of(message)
    finally:
        call.cancel()  # a client that went away stops the upstream stream too


def if_none_match(request: Request) -> list[str]:
    """The entity tags of an If-None-Match header, for the exports service to compare."""
    return [tag.strip() for tag in request.headers.get("if-none-match", "").split(",") if tag.strip()]
