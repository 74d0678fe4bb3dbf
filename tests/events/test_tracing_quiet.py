"""The relay's polls and a watcher's page reads send no spans when tracing is on."""

from __future__ import annotations

import time

import pytest

from tests.common.test_tracing import receiver, traced_system  # noqa: F401 (its fixtures)
from tests.events.support import subject_is, watch
from tests.support.otlp import Receiver
from tests.support.system import System


def test_the_relay_and_a_watcher_send_no_span_of_their_polls(request: pytest.FixtureRequest) -> None:
    system: System = request.getfixturevalue("traced_system")
    spans: Receiver = request.getfixturevalue("receiver")
    user = system.client()
    prompt_id = user.create_prompt()["id"]
    watch(system, user, until=subject_is(f"prompts/{prompt_id}", "prompt.created"))
    time.sleep(3)  # sixty polls of the relay, and the watcher's reads, would each be a span
    statements = [
        str(s.attributes.get("db.statement") or s.attributes.get("db.query.text") or "")
        for s in spans.snapshot()
        if s.service == "depot-prompts"
    ]
    assert statements, "the prompts service sent no SQL span at all (the create's)"
    polls = [text for text in statements if "place_events" in text or "prompts.events" in text]
    assert not polls, f"{len(polls)} spans of the relay or the watcher, e.g. {polls[0][:200]}"
