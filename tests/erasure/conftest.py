"""Fixtures of the erasure tests: the real S3 server the exports tests start, shared here."""

from tests.exports.conftest import s3_server

__all__ = ["s3_server"]
