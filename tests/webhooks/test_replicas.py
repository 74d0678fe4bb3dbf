"""Two exports replicas share the webhook work: each source's events are consumed by one of them at a
time, and every delivery is claimed by one sender, so each event reaches the receiver once, in order
per prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import Database, System
from tests.webhooks.conftest import SETTINGS
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import deliveries, subscribe, wait_until


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("webhook-replicas"))
    database = Database.start(directory)
    try:
        with System.running(database, directory, replicas=2, **SETTINGS) as system:
            yield system
    finally:
        database.postgres.stop()


def test_two_replicas_deliver_each_event_once_and_in_order(replicated: System, receiver: Receiver) -> None:
    user = replicated.client()
    hook = subscribe(user, receiver.url("/replicas"), ["prompt.created", "prompt.version_created"])
    prompts = [user.create_prompt() for _ in range(4)]
    for prompt in prompts:
        for n in range(3):
            reply = user.http.post(
                f"/api/v1/prompts/{prompt['id']}/versions", json={"text": f"v{n}", "source": "agent"}
            )
            assert reply.status_code == 201, reply.text
    requests = receiver.wait_for("/replicas", 16)
    wait_until(
        lambda: deliveries(user, hook["id"]),
        lambda items: [d["status"] for d in items] == ["delivered"] * 16,
        what="sixteen delivered",
    )
    bodies = [json.loads(r.body) for r in receiver.at("/replicas")]
    assert len(bodies) == 16 and len({b["id"] for b in bodies}) == 16, [b["type"] for b in bodies]
    for prompt in prompts:
        mine = [b for b in bodies if b["subject"] == f"prompts/{prompt['id']}"]
        assert [b["data"].get("version_no") for b in mine] == [None, 1, 2, 3]
    assert len(requests) == 16
