"""A create answers with the prompt as a read returns it, whichever of its statements ran: the one
for a create carrying scores, or the leaner one for a create carrying none."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.system import User

SCORES = {"clarity": 5, "specificity": 6, "actionability": 7, "structure": 8, "context_use": 9.5}
UNSCORED = [
    {"text": "v1", "source": "syntax", "explanation": {"why": ["shorter", 2]}},
    {"text": "v2", "source": "structure", "parent_version_no": 1},
]
BODIES: dict[str, dict[str, Any]] = {
    "no versions": {"original_text": "Explain the invoice"},
    "unscored versions": {
        "original_text": "Explain the invoice",
        "agent_type": "multi",
        "versions": UNSCORED,
    },
    "scored and unscored versions": {
        "original_text": "Explain the invoice",
        "request_id": "create-answers-1",
        "versions": [{**UNSCORED[0], "scores": SCORES}, UNSCORED[1]],
    },
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_create_answers_with_the_prompt_a_read_returns(alice: User, name: str) -> None:
    reply = alice.http.post("/api/v1/prompts", json=BODIES[name])
    assert reply.status_code == 201, reply.text
    created = reply.json()
    read = alice.http.get(f"/api/v1/prompts/{created['id']}").json()
    assert created == read, f"created {created}\nread    {read}"
    scored = [v["scores"] is not None for v in created["versions"]]
    assert scored == [name.startswith("scored") and i == 0 for i in range(len(scored))], scored
