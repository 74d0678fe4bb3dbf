"""Blobs as objects of one S3 bucket (`DEPOT_BLOB_STORE=s3://<bucket>`), any S3 endpoint.

A blob of less than one part goes up in one PUT; a larger one as a multipart upload of parts of
`multipart_threshold` bytes taken from the chunk stream as they come, `upload_concurrency` of them
in flight at once, so memory holds at most that many parts plus the one being filled. An object
appears under its key only when the PUT or the multipart completion succeeds; a failed upload is
aborted, and `abort_incomplete_uploads` clears those a crashed process left.

Credentials come from boto3's default chain (AWS_ACCESS_KEY_ID…, a web identity on Kubernetes).
An unreachable endpoint is `BlobStoreUnavailable` (gRPC UNAVAILABLE), never a raw botocore error.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

from services.common.errors import Unavailable
from services.common.settings import Settings
from services.exports.blobstores.base import STORE_CHUNK_BYTES, BlobEntry, BlobNotFound, check_key, rechunk

log = logging.getLogger("depot.exports")

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part but the last
MAX_PARTS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the longest a SigV4 signature may live
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_UNREACHABLE = (BotoConnectionError, HTTPClientError, IncompleteReadError)
_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


class BlobStoreUnavailable(Unavailable):
    default_reason = "BLOB_STORE_UNAVAILABLE"


class S3BlobStore:
    """Blobs in `bucket`: streamed up (multipart when large) and down (ranged GET), presigned for browsers."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str | None = None,
        presign_expiry_seconds: int = 300,
        multipart_threshold: int = 8 * 1024 * 1024,
        upload_concurrency: int = 4,
        max_attempts: int = 3,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"invalid S3 bucket name {bucket!r}: 3-63 lowercase letters, digits, '.' or '-'")
        if multipart_threshold < MIN_PART_BYTES:
            raise ValueError(
                f"multipart_threshold must be at least {MIN_PART_BYTES} bytes (S3's smallest part)"
            )
        self.bucket = bucket
        self._where = endpoint_url or "AWS S3"
        if upload_concurrency < 1:
            raise ValueError(f"upload_concurrency must be at least 1, got {upload_concurrency}")
        self._part_size = multipart_threshold
        self._concurrency = upload_concurrency
        self._presign_expiry = _check_expiry(presign_expiry_seconds)
        session = boto3.session.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=max(10, 2 * upload_concurrency),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._client = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Presigned URLs are opened by browsers, which may reach the store by another name.
        self._presigner = (
            session.client("s3", endpoint_url=public_endpoint_url, config=config)
            if public_endpoint_url
            else self._client
        )

    @property
    def presign_expiry_seconds(self) -> int:
        """How long a presigned URL lives unless told otherwise."""
        return self._presign_expiry

    @classmethod
    def from_settings(cls, bucket: str, settings: Settings) -> S3BlobStore:
        """The store of `s3://<bucket>` with the endpoint, region, expiry and part size of the settings."""
        return cls(
            bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            public_endpoint_url=settings.s3_public_endpoint_url or None,
            region=settings.s3_region or None,
            presign_expiry_seconds=settings.s3_presign_expiry_seconds,
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            upload_concurrency=settings.s3_upload_concurrency,
        )

    def put(self, key: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        check_key(key)
        pieces = rechunk(chunks, self._part_size)
        first = next(pieces, b"")
        if len(first) < self._part_size:  # rechunk made one short piece: the whole blob
            with self._reachable("store", key):
                self._client.put_object(Bucket=self.bucket, Key=key, Body=first)
            return len(first), hashlib.sha256(first).hexdigest()
        return self._put_multipart(key, first, pieces)

    def _put_multipart(self, key: str, first: bytes, rest: Iterator[bytes]) -> tuple[int, str]:
        with self._reachable("start an upload of", key):
            upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        digest, size, parts = hashlib.sha256(), 0, list[dict[str, Any]]()
        try:
            # Up to `upload_concurrency` parts travel at once while the next one is being read;
            # leaving the pool waits for them, so the abort below comes after the last part.
            with ThreadPoolExecutor(self._concurrency, thread_name_prefix="depot-s3-part") as pool:
                in_flight: deque[Future[dict[str, Any]]] = deque()
                try:
                    for number, piece in enumerate(chain([first], rest), start=1):
                        if number > MAX_PARTS:
                            raise ValueError(
                                f"blob {key!r} needs over {MAX_PARTS} parts; raise the part size"
                            )
                        digest.update(piece)
                        size += len(piece)
                        if len(in_flight) == self._concurrency:
                            parts.append(in_flight.popleft().result())
                        in_flight.append(pool.submit(self._upload_part, key, upload_id, number, piece))
                    while in_flight:
                        parts.append(in_flight.popleft().result())
                except BaseException:
                    for future in in_flight:
                        future.cancel()
                    raise
            with self._reachable("complete the upload of", key):
                self._client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            self._abort(key, upload_id)
            raise
        return size, digest.hexdigest()

    def _upload_part(self, key: str, upload_id: str, number: int, piece: bytes) -> dict[str, Any]:
        with self._reachable("upload a part of", key):
            reply = self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=piece
            )
        return {"PartNumber": number, "ETag": reply["ETag"]}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception:  # the upload stays invisible; abort_incomplete_uploads clears it later
            log.warning("blob_upload_abort_failed", extra={"key": key, "upload_id": upload_id}, exc_info=True)

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range [{start}, {end})")
        if end == start:  # no Range header asks for nothing; the key must still exist
            if not self.exists(key):
                raise BlobNotFound(f"no blob under key {key!r}")
            return iter(())
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            with self._reachable("read", key):
                body = self._client.get_object(**request)["Body"]
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                raise BlobNotFound(f"no blob under key {key!r}") from None
            if _code(exc) == "InvalidRange":  # the range starts at or after the end
                return iter(())
            raise
        return self._stream(key, body)

    def _stream(self, key: str, body: Any) -> Iterator[bytes]:
        try:
            while True:
                with self._reachable("read", key):
                    chunk = body.read(STORE_CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        check_key(key)
        with self._reachable("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            with self._reachable("look up", key):
                self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    def entries(self) -> Iterator[BlobEntry]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in self._pages(pages):
            for item in page.get("Contents", ()):
                yield BlobEntry(item["Key"], item["LastModified"])

    def presigned_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        filename: str | None = None,
        media_type: str | None = None,
        content_encoding: str | None = None,
    ) -> str:
        """A GET URL that needs no credentials for `expires_in` seconds (the configured expiry by default);
        `content_encoding` labels stored bytes that are compressed (e.g. gzip) for the browser."""
        check_key(key)
        expiry = self._presign_expiry if expires_in is None else _check_expiry(expires_in)
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = attachment(filename)
        if media_type:
            params["ResponseContentType"] = media_type
        if content_encoding:
            params["ResponseContentEncoding"] = content_encoding
        url: str = self._presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expiry)
        return url

    def abort_incomplete_uploads(self, *, older_than_seconds: float = 24 * 3600.0) -> int:
        """Aborts multipart uploads started at least `older_than_seconds` ago (a crashed writer's); returns how many."""
        cutoff = time.time() - older_than_seconds
        pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket)
        stale = [
            upload
            for page in self._pages(pages)
            for upload in page.get("Uploads", ())
            if upload["Initiated"].timestamp() <= cutoff
        ]
        for upload in stale:
            with self._reachable("abort an upload of", upload["Key"]):
                self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        return len(stale)

    def close(self) -> None:
        self._client.close()
        if self._presigner is not self._client:
            self._presigner.close()

    def _pages(self, pages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        iterator = iter(pages)
        while True:
            with self._reachable("list", None):
                page = next(iterator, None)
            if page is None:
                return
            yield page

    @contextmanager
    def _reachable(self, action: str, key: str | None) -> Iterator[None]:
        """Turns a store that cannot be reached (or answers 5xx) into BlobStoreUnavailable."""
        what = f"{action} blob {key!r}" if key else action
        try:
            yield
        except _UNREACHABLE as exc:
            raise BlobStoreUnavailable(f"cannot {what}: S3 at {self._where} is unreachable ({exc})") from exc
        except ClientError as exc:
            if _status(exc) >= 500 or _code(exc) in _TRANSIENT_CODES:
                raise BlobStoreUnavailable(f"cannot {what}: S3 at {self._where} failed ({exc})") from exc
            raise


def attachment(filename: str) -> str:
    """A Content-Disposition for a download named `filename` (RFC 6266: an ASCII name and a UTF-8 one)."""
    printable = "".join(c if c.isprintable() else "_" for c in filename)
    fallback = unicodedata.normalize("NFKD", printable).encode("ascii", "ignore").decode()
    fallback = fallback.replace('"', "_").replace("\\", "_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(printable, safe='')}"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _check_expiry(seconds: int) -> int:
    if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"a presigned URL lives 1 to {MAX_PRESIGN_SECONDS} seconds, got {seconds}")
    return seconds
