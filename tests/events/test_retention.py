"""Retention of events: a pass deletes the events older than the setting, newer ones stay, and a
cursor of a deleted event still resumes at the next kept one."""

from __future__ import annotations

import asyncio

import psycopg

from services.common.database import Database as Pool
from services.common.events import EventRelay, EventStream
from tests.events.support import subject_is, watch
from tests.support.system import Database, System, User


async def sweep(url: str) -> int:
    pool = Pool(url, pool_size=2)
    await pool.open()
    try:
        return await EventRelay(pool, EventStream(schema="prompts", types=()), retention_days=1).sweep_once()
    finally:
        await pool.close()


def test_events_older_than_the_retention_are_swept_and_newer_ones_kept(
    system: System, database: Database, alice: User
) -> None:
    old = alice.create_prompt()["id"]
    [aged] = watch(system, alice, until=subject_is(f"prompts/{old}", "prompt.created"))
    kept = alice.create_prompt()["id"]
    watch(system, alice, after=aged.cursor, until=subject_is(f"prompts/{kept}", "prompt.created"))
    with psycopg.connect(database.url) as conn:  # two days pass for every event up to `aged`
        [(position,)] = conn.execute(
            "SELECT position FROM prompts.events WHERE id = %s", (aged.id,)
        ).fetchall()
        conn.execute(
            "UPDATE prompts.events SET created_at = created_at - interval '2 days' WHERE position <= %s",
            (position,),
        )

    removed = asyncio.run(sweep(database.url))

    assert removed >= 1
    with psycopg.connect(database.url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM prompts.events WHERE position <= %s", (position,)
        ).fetchone() == (0,)
    from_oldest = watch(system, alice, until=subject_is(f"prompts/{kept}", "prompt.created"))
    assert f"prompts/{old}" not in {e.subject for e in from_oldest}
    resumed = watch(system, alice, after=aged.cursor, until=subject_is(f"prompts/{kept}", "prompt.created"))
    assert [e.subject for e in resumed] == [f"prompts/{kept}"]
