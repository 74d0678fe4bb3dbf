"""The files service's part of an erasure: which of its tables hold a user's rows, in the order
they are emptied, and what the console's confirmation counts (see services/common/erasure.py).

A file's bytes are its chunks, keyed by content id rather than owner: they are deleted first, a
batch at a time, so a user with gigabytes of files never deletes them in one transaction.
tests/erasure/test_coverage.py fails when a table with an owner column is in neither list.
"""

from __future__ import annotations

from depot.files.v1 import erasure_pb2, erasure_pb2_grpc
from services.common.database import Database
from services.common.erasure import ErasureHandlers, Owned
from services.common.grpc_server import Registration

SCHEMA = "files"
OWNED = (
    Owned("file_chunks", "content_id IN (SELECT content_id FROM files.chat_files WHERE owner = %(owner)s)"),
    Owned("chat_files"),
    Owned("artifacts"),
    Owned("chats"),
    Owned("usage"),
    Owned("quota_overrides"),
    # Last: the deletes above write events of their own (file.deleted) into the outbox.
    Owned("event_inbox"),  # where events wait for the relay to place them
    Owned("events"),
)
# Tables whose rows go with a row of an OWNED table (ON DELETE CASCADE), and the table they follow.
CASCADED: dict[str, str] = {}
COUNTS = {
    "chats": "SELECT count(*) FROM files.chats WHERE owner = %(owner)s",
    "files": "SELECT count(*) FROM files.chat_files WHERE owner = %(owner)s",
    "artifacts": "SELECT count(*) FROM files.artifacts WHERE owner = %(owner)s",
    "file_bytes": "SELECT sum(size_bytes) FROM files.chat_files WHERE owner = %(owner)s",
}
FULL_NAME = erasure_pb2.DESCRIPTOR.services_by_name["FilesErasureService"].full_name


def registration(database: Database) -> Registration:
    """The files service's EraseUser and CountUserData."""
    handlers = ErasureHandlers(database, schema=SCHEMA, tables=OWNED, counts=COUNTS, messages=erasure_pb2)
    return Registration(erasure_pb2_grpc.add_FilesErasureServiceServicer_to_server, handlers, FULL_NAME)
