"""Effectiveness drift: long random write sequences, several writers at once, never move the
maintained counters away from the full aggregate (tests/prompts/effectiveness_drift.py).

The CI sample runs a few sequences; `--long` runs hundreds, with larger batches on more threads.
"""

from __future__ import annotations

import uuid
from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings

from tests.prompts.effectiveness_drift import Op, World, plans
from tests.reliability.conftest import Suite
from tests.support.system import System


def test_random_concurrent_writes_never_drift(system: System, suite: Suite, long_run: bool) -> None:
    examples = 150 if long_run else 4
    batch_size = 24 if long_run else 8
    threads = 8 if long_run else 4
    statuses: Counter[int] = Counter()
    checks = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
        suppress_health_check=list(HealthCheck),
    )
    @given(plans(batch_size=batch_size, batches=6))
    def run(plan: list[list[Op]]) -> None:
        nonlocal checks
        world = World(
            users=[system.client(), system.client()],
            database_url=system.database.url,
            tag=uuid.uuid4().hex[:8],
        )
        try:
            for batch in plan:
                world.run(batch, threads=threads)
                world.check()
                checks += 1
        finally:
            statuses.update(world.statuses)
            for user in world.users:
                user.http.close()

    run()
    suite.trials(examples)
    suite.figure("writes", sum(statuses.values()))
    suite.figure("checks", checks)
    suite.figure("statuses", " ".join(f"{code}:{n}" for code, n in sorted(statuses.items())))
