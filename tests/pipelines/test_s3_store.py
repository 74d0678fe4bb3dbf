"""Parquet and JSON Lines exports whose bytes live in S3 (a real SeaweedFS): stored, served and read
back like any other export; parquet is stored as it is, JSON Lines gzip-compressed like every text."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.exports.conftest import create_session
from tests.pipelines.conftest import download, json_lines, parquet_table
from tests.support.s3 import S3Server
from tests.support.system import System, User

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def s3_system(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("pipelines-s3"))
    with System.on_own_database(
        directory,
        DEPOT_BLOB_STORE=f"s3://{s3_server.bucket}",
        DEPOT_S3_ENDPOINT_URL=s3_server.endpoint_url,
        **s3_server.credentials(),
    ) as system:
        yield system


@pytest.fixture
def erin(s3_system: System) -> Iterator[User]:
    user = s3_system.client()
    yield user
    user.http.close()


def stored(s3_server: S3Server, export_id: str) -> bytes:
    reply = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"exports/{export_id}")
    return reply["Body"].read()  # type: ignore[no-any-return]


def test_parquet_and_jsonl_go_through_the_s3_store(erin: User, s3_server: S3Server) -> None:
    session = create_session(erin)
    body, data = download(erin, "datasets/temporal", "parquet")
    table = parquet_table(data)
    assert table.schema.field("total").type == pa.float64() and table.num_rows == 3
    assert table.column("text").to_pylist()[1] == f"Structure {session.marker}"
    in_bucket = stored(s3_server, str(body["id"]))
    assert in_bucket == data and hashlib.sha256(in_bucket).hexdigest() == body["sha256"]

    body, data = download(erin, "datasets/temporal", "jsonl")
    assert [row["total"] for row in json_lines(data)] == [30, 45, 35]
    assert gzip.decompress(stored(s3_server, str(body["id"]))) == data

    body, data = download(erin, "datasets/fine-tune", "jsonl", shape="preference")
    assert json_lines(data) == [
        {
            "prompt": f"Original {session.marker}: write a pitch",
            "chosen": f"Structure {session.marker}",
            "rejected": f"Domain {session.marker}",
        }
    ]
