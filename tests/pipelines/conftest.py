"""Helpers of the pipeline-format tests: exports through the gateway, read back by the readers a
pipeline uses (pyarrow, json)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.exports.conftest import content, export_ok
from tests.support.s3 import S3Server, running_s3_server
from tests.support.system import User


def download(user: User, source: str, fmt: str, **options: Any) -> tuple[dict[str, Any], bytes]:
    """A completed export (datasets are jobs: 202, followed) and its content, decoded."""
    body = export_ok(user, source, fmt, **options)
    reply = content(user, str(body["id"]))
    assert len(reply.content) == body["size_bytes"]
    assert reply.headers["etag"] == f'"{body["sha256"]}"'
    return body, reply.content


def json_lines(data: bytes) -> list[dict[str, Any]]:
    """JSON Lines parsed by `json`, one object per line, every line ended by a newline."""
    text = data.decode()
    assert text == "" or text.endswith("\n"), "every line ends with a newline"
    # JSON Lines ends a line with "\n" only: str.splitlines() would also cut at U+2028, U+2029 or
    # U+0085, which a JSON string holds as they are.
    rows = [json.loads(line) for line in text.split("\n")[:-1]]
    assert all(isinstance(row, dict) for row in rows)
    return rows


def parquet_table(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
