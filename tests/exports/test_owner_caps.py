"""A per-user cap is checked on a count taken under the owner's lock of that kind (held until the
transaction ends): a second create's count waits for the first create to commit, so it sees the
first one's row and two creates can never both take the last place (tests/reliability/test_races.py
drives the same through the gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import namedtuple_row

from services.common.database import Session
from services.exports.schedules.repository import SchedulesRepository
from services.exports.webhooks.repository import WebhooksRepository
from tests.support.system import System

WAIT_SECONDS = 0.5


async def _insert_webhook(session: Session, owner: str) -> None:
    await WebhooksRepository(session).insert(
        owner=owner,
        url="https://52.216.8.1/hook",
        events=["prompt.created"],
        description="",
        secret_sealed=b"sealed",
    )


async def _insert_schedule(session: Session, owner: str) -> None:
    await session.connection.execute(
        "INSERT INTO exports.schedules (owner, source, format, options, every, cron, mode, destination,"
        " next_window_start, due_at)"
        " VALUES (%s, 'datasets/feedback', 'csv', '{}', 'daily', '0 0 * * *', 'incremental', '{}', now(), now())",
        (owner,),
    )


REPOSITORIES: dict[str, tuple[Callable[[Session], Any], Callable[[Session, str], Any]]] = {
    "webhooks": (WebhooksRepository, _insert_webhook),
    "schedules": (SchedulesRepository, _insert_schedule),
}


@contextlib.asynccontextmanager
async def _two_connections(url: str) -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], ...]]:
    connect = psycopg.AsyncConnection.connect
    async with (
        await connect(url, autocommit=True, row_factory=namedtuple_row) as first,
        await connect(url, autocommit=True, row_factory=namedtuple_row) as second,
    ):
        yield first, second


async def _second_count_waits_for_the_first_create(url: str, kind: str) -> None:
    repository, insert = REPOSITORIES[kind]
    owner = f"caps-{uuid.uuid4()}"
    async with _two_connections(url) as (first, second):

        async def count_in_own_transaction() -> int:
            async with second.transaction():
                return int(await repository(Session(second)).count(owner=owner))

        async with first.transaction():
            assert await repository(Session(first)).count(owner=owner) == 0
            waiting = asyncio.create_task(count_in_own_transaction())
            await asyncio.sleep(WAIT_SECONDS)
            assert not waiting.done(), "a second count ran while the first create was open"
            await insert(Session(first), owner)
        assert await asyncio.wait_for(waiting, timeout=10) == 1  # it saw the committed create


@pytest.mark.parametrize("kind", list(REPOSITORIES))
def test_a_count_against_a_cap_waits_for_an_open_create_of_the_same_owner(system: System, kind: str) -> None:
    asyncio.run(_second_count_waits_for_the_first_create(system.database.url, kind))


def test_other_owners_counts_do_not_wait(system: System) -> None:
    async def run() -> None:
        async with _two_connections(system.database.url) as (a, b), a.transaction():
            await WebhooksRepository(Session(a)).count(owner=f"caps-{uuid.uuid4()}")
            async with b.transaction():
                other = WebhooksRepository(Session(b)).count(owner=f"caps-{uuid.uuid4()}")
                assert await asyncio.wait_for(other, timeout=5) == 0

    asyncio.run(run())
