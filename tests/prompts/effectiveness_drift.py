"""Random write sequences against the maintained effectiveness figures (shared by the quick property
test here and the long one in tests/reliability/test_effectiveness_drift.py).

Operations go through the gateway as users would send them: creates (with scored and unscored
versions), appends, score changes on few values (so best heads move back and forth and tie),
feedback and its resubmission, deletes. A batch runs its operations concurrently; after each batch
the counters must equal their recompute exactly, and every reader's rows (each user's, every
user's) must equal the reference aggregate's.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from hypothesis import strategies as st

from services.prompts import effectiveness
from tests.support.system import User

SOURCES = ("syntax", "structure", "domain", "none")
# Criteria on a quarter grid: totals and their sums are exact in float8, so the reference's mean
# (a float sum in scan order) and the maintained one (an exact sum) must be the same number.
CRITERION_VALUES = (0.0, 2.25, 5.0, 5.0, 7.75, 10.0)
REQUEST_SLOTS = 4
CRITERIA = ("clarity", "specificity", "actionability", "structure", "context_use")


@dataclass(frozen=True)
class Op:
    kind: str  # create | append | score | feedback | delete
    user: int
    slot: int
    source: str = "syntax"
    version_no: int = 1
    value: float = 0.0
    versions: tuple[tuple[str, float | None], ...] = ()
    judge: str = "syntax"
    agent: str = "syntax"
    choice: str = "multi"


def _scores(value: float) -> dict[str, float]:
    return dict.fromkeys(CRITERIA, value)


sources = st.sampled_from(SOURCES)
values = st.sampled_from(CRITERION_VALUES)
users = st.integers(0, 1)
slots = st.integers(0, REQUEST_SLOTS - 1)


def _feedback(user: int, slot: int, judge: str, agent: str, choice: str) -> Op:
    # Keeping the original means no agent won (the service refuses anything else).
    return Op(
        "feedback", user, slot, judge=judge, agent="none" if choice == "original" else agent, choice=choice
    )


version_lists = st.lists(st.tuples(sources, st.none() | values), min_size=1, max_size=4).map(tuple)
ops = st.one_of(
    st.builds(Op, st.just("create"), users, slots, versions=version_lists),
    st.builds(Op, st.just("append"), users, slots, source=sources),
    # Scores and feedback twice as often: they are what moves the figures.
    *[st.builds(Op, st.just("score"), users, slots, version_no=st.integers(1, 4), value=values)] * 2,
    *[st.builds(_feedback, users, slots, sources, sources, st.sampled_from(("original", "single", "multi")))]
    * 2,
    st.builds(Op, st.just("delete"), users, slots),
)
# Every slot of both users starts with a prompt, so most operations find one.
seed_batch = st.tuples(*[version_lists] * (2 * REQUEST_SLOTS)).map(
    lambda lists: [Op("create", i % 2, i // 2, versions=v) for i, v in enumerate(lists)]
)


def plans(*, batch_size: int, batches: int) -> st.SearchStrategy[list[list[Op]]]:
    """A seeding batch of creates, then up to `batches` batches of up to `batch_size` operations."""
    rest = st.lists(st.lists(ops, min_size=1, max_size=batch_size), min_size=1, max_size=batches)
    return st.tuples(seed_batch, rest).map(lambda plan: [plan[0], *plan[1]])


@dataclass
class World:
    """Two fresh users, their prompts by request slot, and a way to read the database."""

    users: Sequence[User]
    database_url: str
    tag: str
    prompt_ids: dict[tuple[int, int], str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)

    def request_id(self, slot: int) -> str:
        return f"{self.tag}-r{slot}"

    def apply(self, op: Op) -> int:
        http = self.users[op.user].http
        key = (op.user, op.slot)
        if op.kind == "create":
            body: dict[str, Any] = {
                "request_id": self.request_id(op.slot),
                "original_text": "Summarise the report",
                "versions": [
                    {"text": f"v{n}", "source": source, **({"scores": _scores(v)} if v is not None else {})}
                    for n, (source, v) in enumerate(op.versions)
                ],
            }
            reply = http.post("/api/v1/prompts", json=body)
            if reply.status_code in (200, 201):
                self.prompt_ids[key] = reply.json()["id"]
            return reply.status_code
        prompt_id = self.prompt_ids.get(key, "00000000-0000-0000-0000-000000000000")
        if op.kind == "append":
            reply = http.post(
                f"/api/v1/prompts/{prompt_id}/versions", json={"text": "more", "source": op.source}
            )
        elif op.kind == "score":
            reply = http.put(
                f"/api/v1/prompts/{prompt_id}/versions/{op.version_no}/score", json=_scores(op.value)
            )
        elif op.kind == "feedback":
            reply = http.post(
                "/api/v1/feedback",
                json={
                    "request_id": self.request_id(op.slot),
                    "user_choice": op.choice,
                    "judge_winner": op.judge,
                    "agent_winner": op.agent,
                },
            )
        else:
            reply = http.delete(f"/api/v1/prompts/{prompt_id}")
        return reply.status_code

    def run(self, batch: Sequence[Op], *, threads: int = 4) -> None:
        """The batch's operations at once (a create and a delete of one slot may race: any order is
        fine, only a server error or a lost count is not)."""
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(self.apply, batch))
        self.statuses += statuses
        assert all(s < 500 for s in statuses), list(zip(batch, statuses, strict=True))
        # 409: a create reusing a request_id with another body; 404: nothing in that slot (yet);
        # a score for a version the prompt does not have yet is 404 too.
        assert set(statuses) <= {200, 201, 204, 404, 409}, list(zip(batch, statuses, strict=True))

    def check(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            assert effectiveness.wrong_rows(conn) == 0
            owners: list[str | None] = [u.id for u in self.users] + [None]
            assert effectiveness.drift(conn, owners=owners) == {}
