"""Fixtures of the takeout tests: a second, fresh deployment whose bytes live in a real S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.exports.conftest import s3_server  # noqa: F401  (the session's one S3 server)
from tests.support.s3 import S3Server
from tests.support.system import System

IMPORT_LIMIT_BYTES = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def fresh_s3_system(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:  # noqa: F811
    """Another deployment: its own PostgreSQL, export and upload bytes in S3, a small import limit."""
    with System.on_own_database(
        Path(tmp_path_factory.mktemp("takeout-s3")),
        DEPOT_BLOB_STORE=f"s3://{s3_server.bucket}",
        DEPOT_S3_ENDPOINT_URL=s3_server.endpoint_url,
        DEPOT_IMPORT_MAX_BYTES=str(IMPORT_LIMIT_BYTES),
        **s3_server.credentials(),
    ) as system:
        yield system
