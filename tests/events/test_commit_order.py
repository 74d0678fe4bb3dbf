"""Writers that commit out of insert order never make a live reader miss an event.

These tests hold transactions open in SQL (the API commits each change at once, so it cannot hold
one back): the outbox rows are written by the same triggers the API's writes fire.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from tests.events.support import subject_is, watch
from tests.support.system import Database, System, User

INSERT_PROMPT = "INSERT INTO prompts.prompts (owner, original_text) VALUES (%s, %s) RETURNING id"


class LiveWatch:
    """A watcher following the stream in a thread from `after`, until stopped."""

    def __init__(self, system: System, user: User, after: str) -> None:
        self.seen: list[pb.Event] = []
        self.error: grpc.RpcError | None = None
        self._channel = system.channel("prompts")
        self._call = events_pb2_grpc.EventsServiceStub(self._channel).WatchEvents(
            pb.WatchEventsRequest(after=after), metadata=user.metadata, timeout=300
        )
        self._thread = threading.Thread(target=self._follow)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for response in self._call:
                self.seen.append(response.event)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.error = error

    def wait_for(self, subject: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.subject == subject for e in self.seen):
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"{subject} not seen; seen {[e.subject for e in self.seen]}"
            time.sleep(0.01)

    def stop(self) -> list[pb.Event]:
        self._call.cancel()
        self._thread.join(30)
        self._channel.close()
        assert self.error is None, self.error
        return self.seen


def start_cursor(system: System, user: User) -> str:
    marker = user.create_prompt()["id"]
    return watch(system, user, until=subject_is(f"prompts/{marker}", "prompt.created"))[-1].cursor


def test_an_event_that_commits_after_a_later_one_is_still_seen(
    system: System, database: Database, alice: User
) -> None:
    after = start_cursor(system, alice)
    with psycopg.connect(database.url) as early, psycopg.connect(database.url, autocommit=True) as late:
        [(held,)] = early.execute(INSERT_PROMPT, (alice.id, "inserted first, committed last")).fetchall()
        [(quick,)] = late.execute(INSERT_PROMPT, (alice.id, "inserted second, committed first")).fetchall()
        live = LiveWatch(system, alice, after)
        try:
            live.wait_for(f"prompts/{quick}")  # the reader is past the later insert...
            early.commit()  # ...when the earlier insert commits
            sentinel = alice.create_prompt()["id"]
            live.wait_for(f"prompts/{sentinel}")
        finally:
            seen = live.stop()
    subjects = [e.subject for e in seen]
    assert subjects[:3] == [f"prompts/{quick}", f"prompts/{held}", f"prompts/{sentinel}"], subjects


def test_concurrent_writers_committing_out_of_order_never_make_a_reader_miss_one(
    system: System, database: Database, alice: User
) -> None:
    after = start_cursor(system, alice)
    live = LiveWatch(system, alice, after)
    committed: set[str] = set()
    rolled_back: set[str] = set()
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(database.url) as conn:
            for n in range(25):
                [(prompt_id,)] = conn.execute(INSERT_PROMPT, (alice.id, f"w{seed}-{n}")).fetchall()
                time.sleep(rng.random() * 0.02)  # held open while others insert and commit
                keep = rng.random() > 0.1
                conn.commit() if keep else conn.rollback()
                with lock:
                    (committed if keep else rolled_back).add(f"prompts/{prompt_id}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    sentinel = alice.create_prompt()["id"]
    try:
        live.wait_for(f"prompts/{sentinel}")
    finally:
        seen = live.stop()
    subjects = [e.subject for e in seen]

    assert len(subjects) == len(set(subjects)), "no event is delivered twice"
    assert set(subjects) - {f"prompts/{sentinel}"} == committed, (
        f"missed {len(committed - set(subjects))}, extra {len(set(subjects) - committed)}"
    )
    assert not rolled_back & set(subjects)
