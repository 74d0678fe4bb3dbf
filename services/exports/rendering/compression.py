"""Text exports are stored gzip-compressed; binary ones as they are.

json, yaml, markdown, text and csv shrink several times over, and nearly every client accepts
gzip, so those bytes are usually served exactly as stored. xlsx, docx, pdf and zip are compressed
already: gzip would cost CPU on every render and save nothing.

An export's size_bytes and sha256 (its ETag) describe the content itself, never the stored
encoding, so a client gets the same entity tag whether it takes gzip or the decoded bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

# ISA-L's deflate and inflate, behind zlib's own interface: the same gzip bytes any zlib reads.
from isal import isal_zlib

from services.exports.blobstores import STORE_CHUNK_BYTES

GZIP = "gzip"
_TEXT_TYPES = ("text/", "application/json", "application/yaml")
# ISA-L level 1: measured on the temporal dataset's CSV, 1,650 MB/s at 9.4 % of the size, where
# zlib's level 1 makes 290 MB/s at 11.5 % (and its level 6, 130 MB/s at 10.0 %); a render runs at
# the speed of its slowest stage, which zlib was. Inflating, ISA-L makes 2,200 MB/s to zlib's 860.
_LEVEL = 1
_GZIP_WBITS = 16 + isal_zlib.MAX_WBITS  # deflate inside gzip framing (RFC 1952)


def encoding_for(media_type: str) -> str | None:
    """The encoding a rendering of this media type is stored in: gzip for text, None for binary."""
    return GZIP if media_type.startswith(_TEXT_TYPES) else None


class Encoded:
    """A rendering's chunks on their way to the store, encoded; counts the content as it passes."""

    def __init__(self, chunks: Iterable[bytes], encoding: str | None) -> None:
        self.encoding = encoding
        self.size = 0
        self._digest = hashlib.sha256()
        self._chunks = chunks

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content (complete once the chunks have been consumed)."""
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        compressor = isal_zlib.compressobj(_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS) if self.encoding else None
        for chunk in self._chunks:
            self._digest.update(chunk)
            self.size += len(chunk)
            if compressor is None:
                yield chunk
            elif packed := compressor.compress(chunk):
                yield packed
        if compressor is not None:
            yield compressor.flush()


def encode(chunks: Iterable[bytes], media_type: str) -> Encoded:
    """The chunks to store for a rendering of `media_type`."""
    return Encoded(chunks, encoding_for(media_type))


def decoded(chunks: Iterable[bytes], encoding: str | None) -> Iterator[bytes]:
    """Stored chunks decoded on the fly, in pieces of at most STORE_CHUNK_BYTES (one gRPC message
    each, however well the text compressed)."""
    if not encoding:
        yield from chunks
        return
    if encoding != GZIP:
        raise ValueError(f"unknown content encoding {encoding!r}")
    decompressor = isal_zlib.decompressobj(_GZIP_WBITS)
    for chunk in chunks:
        pending = chunk
        while pending:
            piece = decompressor.decompress(pending, STORE_CHUNK_BYTES)
            pending = decompressor.unconsumed_tail
            if piece:
                yield piece
    if tail := decompressor.flush():
        yield tail
