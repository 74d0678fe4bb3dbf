"""A user with 100,000 rows is erased in bounded batches: no call deletes more than its batch per
table, so no transaction holds them all."""

from __future__ import annotations

import psycopg

from depot.prompts.v1 import erasure_pb2 as ppb
from depot.prompts.v1 import erasure_pb2_grpc as pgrpc
from services.common.erasure import MAX_BATCH
from tests.erasure.world import rows_of
from tests.support.system import System, User

ROWS = 100_000


def test_a_hundred_thousand_rows_go_in_bounded_batches(system: System, alice: User) -> None:
    # Volume by SQL: a hundred thousand API calls would take longer than the rest of the suite.
    with psycopg.connect(system.database.url) as conn:
        conn.execute(
            "INSERT INTO prompts.security_scans (owner, input_text, risk_score, label)"
            " SELECT %s, 'scan ' || n, 0.5, 'suspicious' FROM generate_series(1, %s) n",
            (alice.id, ROWS),
        )
    admin = system.client(admin=True)
    calls, deleted = [], 0
    with system.channel("prompts") as channel:
        erase = pgrpc.PromptsErasureServiceStub(channel).EraseUser
        while True:
            reply = erase(
                ppb.EraseUserRequest(user_id=alice.id, batch_size=10 * MAX_BATCH),
                metadata=admin.metadata,
                timeout=60,
            )
            calls.append(reply.deleted_rows)
            deleted += reply.deleted_rows
            if reply.done:
                break
    assert max(calls) <= MAX_BATCH, f"a call deleted {max(calls)} rows, more than the batch of {MAX_BATCH}"
    assert deleted == ROWS and len(calls) == ROWS // MAX_BATCH + 1, (deleted, len(calls))
    assert rows_of(system, alice.id) == {}
