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


# Every class of character a text may hold (NUL is refused, see test_bad_input): ASCII controls,
# quotes and backslashes that JSON escapes, Latin, CJK, a separator JSON allows raw and JavaScript
# does not, an emoji beyond the BMP, a character of DEL; keys of the explanation alike.
TRICKY = '\t\n\r\x01\x1f "quoted" \\back\\slash\\ /é ß 日本語 \u2028\u2029 \U0001f600 \x7f'


def test_texts_and_explanations_are_stored_exactly_as_sent(alice: User) -> None:
    explanation = {TRICKY: [TRICKY, 1.5, -0.0001, 1e21, True, None, {"nested": TRICKY}]}
    body = {
        "original_text": TRICKY,
        "versions": [
            {"text": TRICKY, "source": TRICKY.strip(), "explanation": explanation, "scores": SCORES},
            {"text": TRICKY * 200, "source": "structure", "parent_version_no": 1},
        ],
    }
    reply = alice.http.post("/api/v1/prompts", json=body)
    assert reply.status_code == 201, reply.text
    read = alice.http.get(f"/api/v1/prompts/{reply.json()['id']}").json()
    assert read["original_text"] == TRICKY
    first, second = read["versions"]
    assert (first["text"], first["source"], first["explanation"]) == (TRICKY, TRICKY.strip(), explanation)
    assert (second["text"], second["parent_version_no"]) == (TRICKY * 200, 1)
    assert first["scores"] == {**SCORES, "total": sum(SCORES.values())}, first["scores"]


def test_an_explanation_reads_with_its_keys_in_one_order_every_time(alice: User) -> None:
    keys = [f"{word}-{n}" for n, word in enumerate(["zeta", "alpha", "mid", "omega", "beta"] * 6)]
    explanation = {key: {inner: n for n, inner in enumerate(reversed(keys[:9]))} for key in keys}
    created = alice.create_prompt(versions=[{"text": "v1", "source": "syntax", "explanation": explanation}])
    for _ in range(3):
        read = alice.http.get(f"/api/v1/prompts/{created['id']}").json()["versions"][0]["explanation"]
        assert read == explanation
        assert list(read) == sorted(keys) and all(list(inner) == sorted(keys[:9]) for inner in read.values())
