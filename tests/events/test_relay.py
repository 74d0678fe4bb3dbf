"""The relay under load: sequencers of several replicas take turns without placing an event twice,
and idle watchers hold no pooled connection."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from services.common.database import Database as Pool
from services.common.events import EventRelay, EventStream
from tests.events.support import subject_is, watch
from tests.support.system import Database, System, User

INSERT_PROMPT = "INSERT INTO prompts.prompts (owner, original_text) VALUES (%s, 'x')"


async def race_sequencers(url: str, owner: str, inserts: int) -> None:
    """Three more sequencers (the stack's own relay is a fourth) place while a writer commits."""
    pool = Pool(url, pool_size=4)
    await pool.open()
    relays = [EventRelay(pool, EventStream(schema="prompts", types=())) for _ in range(3)]

    def write() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(inserts):
                conn.execute(INSERT_PROMPT, (owner,))

    try:
        writer = asyncio.get_running_loop().run_in_executor(None, write)
        while not writer.done():
            await asyncio.gather(*(relay.place_once() for relay in relays))
        await writer
    finally:
        await pool.close()


def test_sequencers_of_several_replicas_place_each_event_once_in_a_gapless_order(
    system: System, database: Database, alice: User
) -> None:
    # Only the positions placed from here on: the stream is shared with the other tests, whose
    # erasures delete their users' events and so leave holes in the older part of it.
    with psycopg.connect(database.url) as conn:
        [(start,)] = conn.execute("SELECT last_position FROM prompts.event_sequencer").fetchall()
    asyncio.run(race_sequencers(database.url, alice.id, inserts=300))
    sentinel = alice.create_prompt()["id"]
    events = watch(system, alice, until=subject_is(f"prompts/{sentinel}", "prompt.created"))

    assert len(events) == 301 and len({e.id for e in events}) == 301
    with psycopg.connect(database.url) as conn:
        positions = [
            row[0]
            for row in conn.execute(
                "SELECT position FROM prompts.events WHERE position > %s ORDER BY position", (start,)
            )
        ]
        [(head,)] = conn.execute("SELECT last_position FROM prompts.event_sequencer").fetchall()
    assert positions == list(range(start + 1, head + 1)), "positions follow each other with no gap"


def test_thirty_idle_watchers_hold_no_pooled_connection_and_each_gets_the_next_event(
    system: System, alice: User
) -> None:
    start = alice.create_prompt()["id"]
    [first] = watch(system, alice, until=subject_is(f"prompts/{start}", "prompt.created"))
    channel = system.channel("prompts")
    stub = events_pb2_grpc.EventsServiceStub(channel)
    calls = [
        stub.WatchEvents(pb.WatchEventsRequest(after=first.cursor), metadata=alice.metadata, timeout=60)
        for _ in range(30)  # more than the service's pool of 10 connections
    ]
    barrier = threading.Barrier(31)

    def first_event(call: grpc.Future) -> str:
        barrier.wait()
        return str(next(iter(call)).event.subject)

    try:
        with ThreadPoolExecutor(30) as pool:
            received = [pool.submit(first_event, call) for call in calls]
            barrier.wait()
            created = alice.create_prompt()["id"]  # answered while 30 watchers wait
            subjects = [future.result(timeout=60) for future in received]
    finally:
        for call in calls:
            call.cancel()
        channel.close()
    assert subjects == [f"prompts/{created}"] * 30
