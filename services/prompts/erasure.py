"""The prompts service's part of an erasure: which of its tables hold a user's rows, in the order
they are emptied, and what the console's confirmation counts (see services/common/erasure.py).

Every table of the schema with a user column is here or goes with one that is: versions take
their scores and labels with them, prompts their label history and any feedback left on them.
tests/erasure/test_coverage.py fails when a table with an owner column is in neither list.
"""

from __future__ import annotations

from depot.prompts.v1 import erasure_pb2, erasure_pb2_grpc
from services.common.database import Database
from services.common.erasure import ErasureHandlers, Owned
from services.common.grpc_server import Registration

SCHEMA = "prompts"
_OF_OWN_PROMPTS = "prompt_id IN (SELECT id FROM prompts.prompts WHERE owner = %(owner)s)"
OWNED = (
    # A prompt's children first, so that deleting a batch of prompts cascades into little.
    Owned("label_moves", _OF_OWN_PROMPTS),
    Owned("versions", _OF_OWN_PROMPTS),
    Owned("feedback"),
    Owned("security_scans"),
    Owned("prompts"),
    # Kept up to date by triggers on the tables above, so emptied after them.
    Owned("agent_stats"),
    Owned("feedback_counts"),
    Owned("owner_revisions"),
    # Last: the deletes above write events of their own (prompt.deleted) into the outbox.
    Owned("event_inbox"),  # where events wait for the relay to place them
    Owned("events"),
)
# Tables whose rows go with a row of an OWNED table (ON DELETE CASCADE), and the table they follow.
CASCADED = {"scores": "versions", "labels": "versions"}
COUNTS = {
    "prompts": "SELECT count(*) FROM prompts.prompts WHERE owner = %(owner)s",
    "feedback": "SELECT count(*) FROM prompts.feedback WHERE owner = %(owner)s",
    "security_scans": "SELECT count(*) FROM prompts.security_scans WHERE owner = %(owner)s",
}
FULL_NAME = erasure_pb2.DESCRIPTOR.services_by_name["PromptsErasureService"].full_name


def registration(database: Database) -> Registration:
    """The prompts service's EraseUser and CountUserData."""
    handlers = ErasureHandlers(database, schema=SCHEMA, tables=OWNED, counts=COUNTS, messages=erasure_pb2)
    return Registration(erasure_pb2_grpc.add_PromptsErasureServiceServicer_to_server, handlers, FULL_NAME)
