"""A dataset CSV of many messages and stored chunks (the prompts service's COPY read in chunks, the
render running ahead of the store, ISA-L's gzip) is PostgreSQL's COPY output byte for byte,
whether the client takes it decoded or as stored."""

from __future__ import annotations

import gzip
import hashlib

import psycopg

from bench.exports import seed_versions
from services.prompts.datasets import TEMPORAL
from tests.exports.conftest import content, export_ok
from tests.support.system import System, User

VERSIONS = 20_000  # about 10 MB of CSV: forty gRPC messages, ten stored chunks, a read-ahead that fills


def _copy_output(system: System, owner: str) -> bytes:
    statement = TEMPORAL.copy_sql(all_users=False, csv_safe=True)
    with (
        psycopg.connect(system.database.url) as conn,
        conn.cursor() as cur,
        cur.copy(statement, {"owner": owner}) as copy,
    ):
        return b"".join(bytes(row) for row in copy)


def test_a_csv_of_many_chunks_is_the_copy_output_byte_for_byte(system: System, alice: User) -> None:
    seed_versions(system.database.url, alice.id, VERSIONS)  # by SQL: the API would take minutes
    expected = _copy_output(system, alice.id)
    assert len(expected) > 8 * 1024 * 1024

    body = export_ok(alice, "datasets/temporal", "csv")
    receipt = body["receipt"]
    assert (receipt["row_count"], receipt["size_bytes"]) == (VERSIONS, len(expected))
    assert receipt["sha256"] == hashlib.sha256(expected).hexdigest()

    assert content(alice, body["id"]).content == expected  # httpx decodes what it accepted
    url = f"/api/v1/exports/{body['id']}/content"
    with alice.http.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as stored:
        assert stored.headers["content-encoding"] == "gzip"
        assert gzip.decompress(b"".join(stored.iter_raw())) == expected
    decoded = alice.http.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in decoded.headers and decoded.content == expected
