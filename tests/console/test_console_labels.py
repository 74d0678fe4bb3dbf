"""The prompt page's labels (set, move, history, rollback) and its side-by-side diff, in a browser."""

from __future__ import annotations

from tests.console.conftest import Console, needs_chromium
from tests.support.system import User

pytestmark = needs_chromium


def scores(each: float) -> dict[str, float]:
    return {c: each for c in ("clarity", "specificity", "actionability", "structure", "context_use")}


def test_labels_are_set_moved_and_rolled_back_and_two_versions_compared(
    console: Console, alice: User
) -> None:
    prompt = alice.create_prompt(
        versions=[
            {"text": "Write a haiku about cats.", "source": "single", "scores": scores(5)},
            {"text": "Write a poem about dogs.", "source": "multi", "scores": scores(7)},
        ]
    )
    console.sign_in(alice)
    page = console.page
    console.go(f"#/prompts/{prompt['id']}", "#label-table")
    page.get_by_label("Label name").fill("production")
    page.get_by_label("Points at").select_option("1")
    page.get_by_role("button", name="Set label").click()
    page.wait_for_selector("tr[data-label='production']")
    page.get_by_label("Move production to").select_option("2")
    page.get_by_role("button", name="Move production").click()
    page.wait_for_selector("tr[data-label='production'] td:nth-child(2):text-is('v2')")
    page.get_by_role("button", name="History of production").click()
    page.wait_for_selector(".label-history")
    assert "v1" in page.inner_text(".label-history")
    page.get_by_role("button", name="Roll production back to v1").click()
    page.wait_for_selector("tr[data-label='production'] td:nth-child(2):text-is('v1')")
    moves = alice.http.get(f"/api/v1/prompts/{prompt['id']}/labels/production/history").json()["items"]
    assert [(m["from_version_no"], m["to_version_no"]) for m in moves] == [(2, 1), (1, 2), (None, 1)]

    page.get_by_label("From (number or label)").fill("production")
    page.get_by_label("To (number or label)").fill("best")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector("#diff-result")
    assert page.inner_text(".diff-old del") == "haiku"
    assert page.inner_text(".score-change") == "+10.0"
    console.screenshot("prompt-labels-diff")
    assert console.errors == []
