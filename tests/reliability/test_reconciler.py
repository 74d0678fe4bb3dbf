"""The reconciler check, run after every other reliability test (the conftest orders it last):
over the shared database, no row points at missing bytes, and no bytes that no row points at are
older than the sweeper's grace (DEPOT_EXPORT_SWEEP_GRACE_SECONDS)."""

from __future__ import annotations

from services.common.settings import Settings
from tests.reliability import db
from tests.reliability.conftest import Suite
from tests.support.system import System


def test_no_row_points_at_missing_bytes(system: System, suite: Suite) -> None:
    url = system.database.url
    exports = db.query(
        url,
        "SELECT e.id FROM exports.exports e WHERE e.status = 'completed' "
        "AND NOT EXISTS (SELECT 1 FROM exports.blob_chunks b WHERE b.key = e.blob_key)",
    )
    files = db.query(
        url,
        "SELECT f.id FROM files.chat_files f WHERE f.size_bytes > 0 "
        "AND NOT EXISTS (SELECT 1 FROM files.file_chunks c WHERE c.content_id = f.content_id)",
    )
    suite.trials(
        db.scalar(url, "SELECT count(*) FROM exports.exports")
        + db.scalar(url, "SELECT count(*) FROM files.chat_files")
    )
    assert exports == [] and files == [], f"exports {exports[:5]}, files {files[:5]} point at missing bytes"


def test_no_unreferenced_bytes_outlive_the_sweepers_grace(system: System, suite: Suite) -> None:
    grace = Settings(jwt_secret="x" * 40).export_sweep_grace_seconds
    url = system.database.url
    stale = db.query(
        url,
        "SELECT b.key FROM exports.blob_chunks b GROUP BY b.key "
        "HAVING max(b.stored_at) < now() - make_interval(secs => %s) "
        "AND NOT EXISTS (SELECT 1 FROM exports.exports e WHERE e.blob_key = b.key)",
        grace,
    )
    orphans = db.query(
        url,
        "SELECT DISTINCT c.content_id FROM files.file_chunks c "
        "WHERE NOT EXISTS (SELECT 1 FROM files.chat_files f WHERE f.content_id = c.content_id)",
    )
    suite.trials(db.scalar(url, "SELECT count(DISTINCT key) FROM exports.blob_chunks"))
    suite.figure("sweeper grace s", grace)
    assert stale == [], f"unreferenced blobs older than the grace: {stale[:5]}"
    assert orphans == [], f"file chunks of no file: {orphans[:5]}"
