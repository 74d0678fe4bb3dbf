"""The export panel offers what the server accepts per source: jsonl and parquet for datasets, and
datasets/fine-tune (jsonl alone) with its options, whose shape a person chooses."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Locator

from tests.console.conftest import Console, needs_chromium
from tests.console.test_console import make_session
from tests.support.system import User

pytestmark = needs_chromium

OLDER = ["json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx"]


def offered(panel: Locator) -> list[str]:
    return panel.locator("button.format").evaluate_all("bs => bs.map(b => b.dataset.format)")


def test_datasets_offer_jsonl_and_parquet_and_fine_tune_its_options(console: Console, alice: User) -> None:
    prompt = make_session(alice)
    console.sign_in(alice)
    page = console.page

    console.go(f"#/prompts/{prompt['id']}", ".export-panel")
    assert offered(page.locator(".export-panel")) == OLDER

    console.go("#/exports", "#dataset-select")
    page.select_option("#dataset-select", "feedback")
    panel = page.locator(".export-panel", has_text="Dataset feedback")
    assert offered(panel) == [*OLDER, "jsonl", "parquet"]
    panel.locator("button[data-format=jsonl]").click()
    with page.expect_download() as jsonl:
        panel.locator(".export-state button.download").click()
    [row] = [json.loads(line) for line in Path(jsonl.value.path()).read_text().splitlines()]
    assert row["request_id"] == "req-console"
    panel.locator("button[data-format=parquet]").click()
    with page.expect_download() as parquet:
        panel.locator(".export-state button.download").click()
    assert Path(parquet.value.path()).read_bytes()[:4] == b"PAR1"

    page.select_option("#dataset-select", "fine-tune")
    panel = page.locator(".export-panel", has_text="Dataset fine-tune")
    assert offered(panel) == ["jsonl"]
    assert panel.get_by_label("Shape").evaluate("s => [...s.options].map(o => o.value)") == [
        "chat",
        "preference",
    ]
    panel.get_by_label("Shape").select_option("preference")
    panel.locator("button[data-format=jsonl]").click()
    with page.expect_download() as pairs:
        panel.locator(".export-state button.download").click()
    [pair] = [json.loads(line) for line in Path(pairs.value.path()).read_text().splitlines()]
    assert pair["prompt"] == "Summarise the quarterly report for the board"
    assert pair["chosen"].startswith("As the CFO, summarise Q3 for the board")
    assert pair["rejected"] == "Summarise the Q3 report in five bullets."

    panel.get_by_label("Shape").select_option("chat")
    panel.get_by_label("Minimum total").fill("40")
    panel.get_by_label("Agents").fill("multi, critic")
    panel.locator("button[data-format=jsonl]").click()
    with page.expect_download() as chat:
        panel.locator(".export-state button.download").click()
    rows = [json.loads(line) for line in Path(chat.value.path()).read_text().splitlines()]
    assert [(r["metadata"]["source"], r["metadata"]["version_no"]) for r in rows] == [
        ("multi", 2),
        ("multi", 4),
    ]
    [job, *_] = alice.http.get("/api/v1/exports", params={"source": "datasets/fine-tune"}).json()["items"]
    assert {k: job["options"][k] for k in ("shape", "min_total", "agents")} == {
        "shape": "chat",
        "min_total": 40,
        "agents": ["critic", "multi"],  # the server's order: equal options share one export
    }
    assert console.errors == []
