"""Where export bytes live: `BlobStore` (in `base`) and its implementations, one module each.

`open_blob_store(settings)` picks the implementation from `DEPOT_BLOB_STORE`: `postgres` (the
default, `postgres.py`), `local:<dir>` (`local.py`) or `s3://<bucket>` (`s3.py`). A store that can
also be read on the event loop has a reader for it (`open_loop_reader`).
"""

from __future__ import annotations

from services.common.settings import Settings
from services.exports.blobstores.base import (
    STORE_CHUNK_BYTES,
    BlobEntry,
    BlobNotFound,
    BlobStore,
    check_key,
    rechunk,
)
from services.exports.blobstores.local import LocalBlobStore
from services.exports.blobstores.postgres import PostgresBlobStore, PostgresLoopReader

__all__ = [
    "STORE_CHUNK_BYTES",
    "BlobEntry",
    "BlobNotFound",
    "BlobStore",
    "LocalBlobStore",
    "PostgresBlobStore",
    "PostgresLoopReader",
    "check_key",
    "open_blob_store",
    "open_loop_reader",
    "rechunk",
]


def open_blob_store(settings: Settings, *, pool_size: int = 4) -> BlobStore:
    """The store `DEPOT_BLOB_STORE` names; `postgres` keeps the bytes in the exports schema."""
    spec = settings.blob_store
    if spec == "postgres":
        return PostgresBlobStore(settings.database_url_for("exports"), pool_size=pool_size)
    if spec.startswith("local:") and spec != "local:":
        return LocalBlobStore(spec.removeprefix("local:"))
    if spec.startswith("s3://"):
        from services.exports.blobstores.s3 import S3BlobStore  # here: boto3 loads only when S3 is chosen

        return S3BlobStore.from_settings(spec.removeprefix("s3://"), settings)
    raise ValueError(f"DEPOT_BLOB_STORE must be `postgres`, `local:<dir>` or `s3://<bucket>`, got {spec!r}")


def open_loop_reader(settings: Settings, *, pool_size: int = 4) -> PostgresLoopReader | None:
    """Reads of the store `DEPOT_BLOB_STORE` names on the event loop, where it has them (postgres);
    the others' reads run in threads (boto3 and files block)."""
    if settings.blob_store == "postgres":
        return PostgresLoopReader(settings.database_url_for("exports"), pool_size=pool_size)
    return None
