"""Blob store benchmark: a 100 MB blob stored and fetched through each store, in MB/s, next to the
plainest way to move the same bytes to the same place, measured in the same run:

- local: a raw file copy (the same chunks written with open/write/fsync, read back with read());
- S3 (a SeaweedFS server on 127.0.0.1): boto3 put_object/get_object straight to the same server,
  and boto3's managed transfer (threads, concurrent parts) for reference;
- postgres (embedded): a bare psycopg COPY of the same 1 MiB pieces into a table of the same storage.

Each figure is the median of ROUNDS rounds; reads are from a warm cache on every side.
"""

from __future__ import annotations

import hashlib
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from services.exports.blobstores import STORE_CHUNK_BYTES, BlobStore, PostgresBlobStore
from services.exports.blobstores.local import LocalBlobStore
from services.exports.blobstores.s3 import S3BlobStore
from tests.support.s3 import S3Server, running_s3_server
from tests.support.system import Database

MB = 1e6
SIZE = int(os.environ.get("BENCH_BLOB_BYTES", str(100 * 1000 * 1000)))
WRITE_CHUNK = 256 * 1024  # what a renderer hands the store at a time
ROUNDS = int(os.environ.get("BENCH_BLOB_ROUNDS", "3"))


def chunks(data: bytes, size: int = WRITE_CHUNK) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])


def median_seconds(action: Callable[[], Any]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def drain(stream: Iterator[bytes]) -> int:
    return sum(len(chunk) for chunk in stream)


def report(
    name: str, store_seconds: tuple[float, float], base_seconds: tuple[float, float], base: str
) -> None:
    """One store's line pair: its MB/s, the baseline's, and the ratio store / baseline."""
    for direction, mine, theirs in zip(("store", "fetch"), store_seconds, base_seconds, strict=True):
        print(
            f"  {name:<8} {direction}  {SIZE / MB / mine:7.1f} MB/s   {base:<28} {SIZE / MB / theirs:7.1f} MB/s"
            f"   ratio {theirs / mine:5.2f}"
        )


def through_store(store: BlobStore, key: str, data: bytes) -> tuple[float, float]:
    expected = (len(data), hashlib.sha256(data).hexdigest())
    assert store.put(key, chunks(data)) == expected, "the store returned another size or digest"
    put = median_seconds(lambda: store.put(key, chunks(data)))
    assert drain(store.open(key)) == len(data)
    get = median_seconds(lambda: drain(store.open(key)))
    store.delete(key)
    return put, get


def local(data: bytes, directory: Path) -> None:
    store = LocalBlobStore(directory / "store")
    mine = through_store(store, "bench/blob", data)
    raw = directory / "raw.bin"

    def write() -> None:
        with raw.open("wb") as out:
            for chunk in chunks(data):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())

    def read() -> int:
        with raw.open("rb", buffering=0) as source:
            return drain(iter(lambda: source.read(STORE_CHUNK_BYTES), b""))

    write()
    report("local", mine, (median_seconds(write), median_seconds(read)), "raw file copy (fsync)")


def s3(data: bytes, server: S3Server) -> None:
    store = S3BlobStore(
        server.bucket,
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
    )
    mine = through_store(store, "bench/blob", data)
    store.close()
    client = server.client()
    key = "bench/boto3"

    def put() -> None:
        client.put_object(Bucket=server.bucket, Key=key, Body=data)

    def get() -> int:
        return drain(client.get_object(Bucket=server.bucket, Key=key)["Body"].iter_chunks(STORE_CHUNK_BYTES))

    def managed_put() -> None:
        client.upload_fileobj(io.BytesIO(data), server.bucket, key)

    def managed_get() -> int:
        sink = io.BytesIO()
        client.download_fileobj(server.bucket, key, sink)
        return sink.tell()

    put()
    report("s3", mine, (median_seconds(put), median_seconds(get)), "boto3 put_object/get_object")
    report("s3", mine, (median_seconds(managed_put), median_seconds(managed_get)), "boto3 managed transfer")
    client.delete_object(Bucket=server.bucket, Key=key)
    client.close()


def postgres(data: bytes, database: Database) -> None:
    store = PostgresBlobStore(database.url)
    mine = through_store(store, "bench/blob", data)
    store.close()
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_copy (seq int4 NOT NULL, data bytea NOT NULL)")
        conn.execute("ALTER TABLE bench_copy ALTER COLUMN data SET STORAGE EXTERNAL")

        def write() -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("TRUNCATE bench_copy")
                with cur.copy("COPY bench_copy (seq, data) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int4", "bytea"])
                    for seq, piece in enumerate(chunks(data, STORE_CHUNK_BYTES)):
                        copy.write_row((seq, piece))

        def read() -> int:
            query = "COPY (SELECT data FROM bench_copy ORDER BY seq) TO STDOUT (FORMAT BINARY)"
            with conn.cursor() as cur, cur.copy(query) as copy:
                return sum(len(chunk) for chunk in copy)

        write()
        base = (median_seconds(write), median_seconds(read))
        conn.execute("DROP TABLE bench_copy")
    report("postgres", mine, base, "bare psycopg COPY")


def main() -> None:
    data = os.urandom(SIZE)
    print(
        f"{SIZE / MB:.0f} MB of random bytes, median of {ROUNDS}, {os.cpu_count()} CPUs; ratio = store / baseline"
    )
    hashing = median_seconds(lambda: hashlib.sha256(data).digest())
    print(
        f"  (sha256, which every store computes on put and no baseline does: {SIZE / MB / hashing:.0f} MB/s)"
    )
    with tempfile.TemporaryDirectory(prefix="depot-bench-blobs-") as scratch:
        directory = Path(scratch)
        local(data, directory)
        with running_s3_server(directory / "seaweedfs", bucket="depot-bench") as server:
            s3(data, server)
        database = Database.start(directory / "postgres")
        try:
            postgres(data, database)
        finally:
            database.postgres.stop()


if __name__ == "__main__":
    main()
