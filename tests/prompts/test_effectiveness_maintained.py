"""Effectiveness is read from counters the writes keep: they never drift from the full aggregate.

The property test applies random write sequences through the gateway, several at once, and after
each batch compares the counters with their recompute and every reader's rows with the reference
aggregate (tests/prompts/effectiveness_drift.py); the long run is in tests/reliability.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
from hypothesis import HealthCheck, Phase, given, settings

from services.prompts import effectiveness
from tests.prompts.effectiveness_drift import CRITERIA, Op, World, plans
from tests.support.system import System, User


def world(system: System) -> World:
    return World(
        users=[system.client(), system.client()], database_url=system.database.url, tag=uuid.uuid4().hex[:8]
    )


def test_random_writes_never_drift(system: System) -> None:
    @settings(
        max_examples=6,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded to seconds
        suppress_health_check=list(HealthCheck),
    )
    @given(plans(batch_size=8, batches=4))
    def run(plan: list[list[Op]]) -> None:
        w = world(system)
        try:
            for batch in plan:
                w.run(batch)
                w.check()
        finally:
            for user in w.users:
                user.http.close()

    run()


def test_a_best_head_moving_back_and_forth_and_ties_keep_the_wins(system: System) -> None:
    w = world(system)
    create = Op("create", 0, 0, versions=(("syntax", 5.0), ("structure", 5.0), ("domain", None)))
    w.run([create])
    w.check()
    for value, version in [(7.75, 2), (2.25, 2), (5.0, 2), (10.0, 3), (0.0, 3), (5.0, 3), (10.0, 1)]:
        w.run([Op("score", 0, 0, version_no=version, value=value)])
        w.check()
    rows = effectiveness.read(psycopg.connect(system.database.url, autocommit=True), owner=w.users[0].id)
    wins = {r["agent"]: r["wins"] for r in rows if r["basis"] == "scores"}
    assert wins == {"syntax": 1, "structure": 0, "domain": 0}


def test_scores_with_no_exact_binary_sum_leave_no_residue(alice: User, system: System) -> None:
    """0.1 + 0.2 - 0.1 is not 0.2 in float8: the counters keep exact sums, so a thousand changes
    back and forth leave them equal to their recompute, and the mean is the reference's."""
    prompt = alice.create_prompt(
        request_id="fine",
        versions=[{"text": "a", "source": "syntax"}, {"text": "b", "source": "syntax"}],
    )
    for round_ in range(20):
        for version, value in ((1, 0.1 * (round_ % 7)), (2, 0.3 + 0.01 * round_)):
            reply = alice.http.put(
                f"/api/v1/prompts/{prompt['id']}/versions/{version}/score",
                json=dict.fromkeys(CRITERIA, value),
            )
            assert reply.status_code == 200
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        assert effectiveness.wrong_rows(conn) == 0
        assert effectiveness.drift(conn, owners=[alice.id]) == {}
    stats = alice.http.get("/api/v1/agents/effectiveness?basis=scores").json()["agents"]["syntax"]
    assert stats["total"] == 2
    assert stats["wins"] == 1


def test_the_repair_command_rebuilds_counters_that_were_tampered_with(alice: User, system: System) -> None:
    alice.create_prompt(
        request_id="tampered",
        versions=[{"text": "a", "source": "syntax", "scores": dict.fromkeys(CRITERIA, 5)}],
    )
    before = alice.http.get("/api/v1/agents/effectiveness?basis=scores").json()
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        conn.execute("UPDATE prompts.agent_stats SET wins = wins + 7 WHERE owner = %s", (alice.id,))
        assert effectiveness.wrong_rows(conn) == 1
    assert alice.http.get("/api/v1/agents/effectiveness?basis=scores").json() != before
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "prompts", "repair-effectiveness"],
        env={**os.environ, "DEPOT_DATABASE_URL": system.database.url},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 rows were wrong" in done.stdout
    assert alice.http.get("/api/v1/agents/effectiveness?basis=scores").json() == before
