"""Load, bounded and on 127.0.0.1 only: concurrent clients on a mix of 70 % reads, 20 % writes and
10 % export downloads. Every response is 2xx or 429, the stored rows equal the acknowledged writes,
and p50/p99 are reported. CI runs 20 clients for 8 s; `--long` runs 100 clients for 60 s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.reliability import db
from tests.reliability.conftest import Suite
from tests.support.system import System, User

USERS = 10


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"read": [], "write": [], "download": []}
    )
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)  # user id → 201 writes


@dataclass
class Seat:
    user: User
    prompt_id: str
    export_id: str


def seat(system: System) -> Seat:
    user = system.client()
    prompt = user.create_prompt(versions=[{"text": "v1", "source": "load"}])
    export = user.http.post("/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "json"})
    assert export.status_code in (200, 201), export.text
    return Seat(user, prompt["id"], export.json()["id"])


async def client(http: httpx.AsyncClient, seat: Seat, tally: Tally, until: float, rng: random.Random) -> None:
    headers = {"Authorization": f"Bearer {seat.user.token}"}
    while time.monotonic() < until:
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.7:
                kind = "read"
                path = f"/api/v1/prompts/{seat.prompt_id}" if roll < 0.35 else "/api/v1/prompts"
                reply = await http.get(path, headers=headers, params={} if roll < 0.35 else {"page_size": 10})
            elif roll < 0.9:
                kind = "write"
                body = {
                    "request_id": uuid.uuid4().hex,
                    "original_text": "load",
                    "versions": [{"text": "t", "source": "s"}],
                }
                reply = await http.post("/api/v1/prompts", headers=headers, json=body)
            else:
                kind = "download"
                reply = await http.get(f"/api/v1/exports/{seat.export_id}/content", headers=headers)
            status = str(reply.status_code)
        except httpx.HTTPError as exc:
            kind, status = "error", type(exc).__name__
        tally.statuses[status] += 1
        if kind in tally.latencies:
            tally.latencies[kind].append(time.perf_counter() - started)
        if kind == "write" and status == "201":
            tally.acknowledged[seat.user.id] += 1


async def run(seats: list[Seat], clients: int, seconds: float) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=seats[0].user.system.url, timeout=60, limits=limits) as http:
        until = time.monotonic() + seconds
        rng = random.Random(7)
        await asyncio.gather(
            *(client(http, seats[i % len(seats)], tally, until, rng) for i in range(clients))
        )
    return tally


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    cuts = statistics.quantiles(values, n=100)
    return f"{cuts[49] * 1000:.0f}/{cuts[98] * 1000:.0f}"


def test_a_bounded_mixed_load_answers_only_2xx_or_429_and_loses_no_write(
    system: System, long_run: bool, suite: Suite
) -> None:
    clients, seconds = (100, 60.0) if long_run else (20, 8.0)
    seats = [seat(system) for _ in range(USERS)]
    tally = asyncio.run(run(seats, clients, seconds))
    total = sum(tally.statuses.values())
    suite.trials(total)
    suite.figure("clients x s", f"{clients}x{seconds:.0f}")
    suite.figure("req/s", round(total / seconds))
    for kind, values in tally.latencies.items():
        suite.figure(f"{kind} p50/p99 ms", quantiles(values))
    odd = {s: n for s, n in tally.statuses.items() if not (s.startswith("2") or s == "429")}
    assert not odd, f"responses outside 2xx/429: {odd}"
    for s in seats:
        stored = db.scalar(
            system.database.url, "SELECT count(*) FROM prompts.prompts WHERE owner = %s", s.user.id
        )
        assert stored == 1 + tally.acknowledged[s.user.id], (
            f"{s.user.id}: {stored} rows, {tally.acknowledged[s.user.id]} acknowledged"
        )
