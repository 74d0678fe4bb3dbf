"""The web console end to end: a headless Chromium against the whole running system.

Every record the browser shows was made through the REST API by the test; the browser signs in
with a pasted token and does what a person would, page by page, with a screenshot of each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route

from cli import up
from services.common.auth import mint_token
from tests.console.conftest import Console, needs_chromium
from tests.support.system import System, User

pytestmark = needs_chromium

XSS_TEXT = '<img src=x onerror="window.__xss=1">'
XSS_FILENAME = "<img src=x onerror=window.__xss=2>.txt"


def scores(each: float) -> dict[str, float]:
    return {c: each for c in ("clarity", "specificity", "actionability", "structure", "context_use")}


def make_session(user: User) -> dict[str, Any]:
    """A prompt with a branching lineage (v2 is the best head), feedback, a chat file and an artifact."""
    prompt = user.create_prompt(
        request_id="req-console",
        agent_type="multi",
        original_text="Summarise the quarterly report for the board",
        versions=[
            {"text": "Summarise the Q3 report in five bullets.", "source": "single", "scores": scores(6)},
            {
                "text": "As the CFO, summarise Q3 for the board in five bullets with figures.",
                "source": "multi",
                "parent_version_no": 1,
                "scores": scores(8.5),
            },
            {
                "text": "Summarise the report.",
                "source": "critic",
                "parent_version_no": 1,
                "scores": scores(4),
            },
            {
                "text": "As the CFO, summarise Q3: three risks, five bullets.",
                "source": "multi",
                "parent_version_no": 2,
                "scores": scores(8),
            },
        ],
    )
    feedback = {
        "request_id": "req-console",
        "user_choice": "multi",
        "judge_winner": "multi",
        "agent_winner": "multi",
    }
    assert user.http.post("/api/v1/feedback", json=feedback).status_code in (200, 201)
    reply = user.http.put("/api/v1/chats/c1/files/notes.txt", content=b"first line\n")
    assert reply.status_code == 201, reply.text
    reply = user.http.post(
        "/api/v1/chats/c1/artifacts",
        json={"title": "Sales", "columns": ["region", "total"], "rows": [["n", 3]]},
    )
    assert reply.status_code == 201, reply.text
    return prompt


def test_console_and_its_files_carry_a_strict_policy_and_leave_other_routes_alone(system: System) -> None:
    http = system.anonymous()
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    )
    script = http.get("/console/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy
    assert http.get("/console/app.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    for missing in (
        "/console/nothing.js",
        "/console/../gateway/app.py",
        "/console/%2e%2e/routes/console.py",
        "/api/v1/no-such-route",
        "/index.html",
    ):
        reply = http.get(missing)
        assert reply.status_code == 404, missing
        assert reply.json()["error"]["code"] == "NOT_FOUND", missing
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").status_code == 200
    assert not [p for p in http.get("/openapi.json").json()["paths"] if p == "/" or p.startswith("/console")]


def test_a_tour_of_the_console(console: Console, alice: User) -> None:
    prompt = make_session(alice)
    page = console.page
    console.open()
    console.screenshot("01-sign-in")
    console.sign_in(alice)
    assert page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('depot.token')") == alice.token
    assert page.evaluate("localStorage.length") == 0
    page.wait_for_selector("#prompt-table")
    console.screenshot("02-prompts")

    page.get_by_role("link", name="Summarise the quarterly report for the board").click()
    best = page.wait_for_selector(".version.best")
    assert best.get_attribute("data-version") == "2"
    assert "Best head" in best.inner_text()
    assert page.locator(".version.best").count() == 1
    assert page.locator("svg.lineage .node-best").get_attribute("data-version") == "2"
    assert page.locator("svg.lineage .edge").count() == 3
    assert "+12.5" in page.locator("svg.lineage").text_content()  # v1 (30) → v2 (42.5)
    assert page.inner_text("#why-best").startswith("Version 2 is the best head")
    assert page.wait_for_selector("#feedback-table").inner_text().count("multi") >= 2
    console.screenshot("03-prompt")

    with page.expect_download() as pdf:
        page.click("button[data-format=pdf]")
        page.click(".export-state button.download")
    data = Path(pdf.value.path()).read_bytes()
    assert data.startswith(b"%PDF"), data[:20]
    assert pdf.value.suggested_filename.endswith(".pdf")
    page.wait_for_selector(".export-history tr[data-export] td:text-is('pdf')")
    console.screenshot("04-prompt-exported")

    console.go("#/agents", "svg[data-chart=scores-win-rate]")
    widths = page.eval_on_selector_all(
        "svg[data-chart=scores-win-rate] rect.bar", "bars => bars.map(b => Number(b.getAttribute('width')))"
    )
    assert len(widths) == 3 and max(widths) > 0, widths  # single, multi, critic
    assert page.locator("svg[data-chart=judge-agreement] rect.bar").count() == 1
    console.screenshot("05-agents")

    console.go("#/chats", "#chat-table a.chat-link")
    assert page.locator("#chat-table a.chat-link").all_inner_texts() == ["c1"]
    console.screenshot("06-chats")
    page.locator("#chat-table a.chat-link").first.click()
    page.wait_for_selector("#file-table")
    page.set_input_files(
        "#file-input",
        files=[{"name": "upload.txt", "mimeType": "text/plain", "buffer": b"uploaded by the browser"}],
    )
    page.wait_for_selector("tr[data-filename='upload.txt']")
    assert alice.http.get("/api/v1/chats/c1/files/upload.txt").content == b"uploaded by the browser"
    with page.expect_download() as file:
        page.get_by_role("button", name="Download notes.txt").click()
    assert Path(file.value.path()).read_bytes() == b"first line\n"
    console.screenshot("07-chat")

    console.go("#/exports", ".export-history tr[data-export]")
    page.get_by_role("button", name="Share link").first.click()
    link = page.wait_for_selector("input.share-url").get_attribute("value") or ""
    assert link.startswith(f"{console.system.url}/s/"), link
    assert console.system.anonymous().get(link).content.startswith(b"%PDF")
    assert page.locator("#export-stats").inner_text().count("pdf") == 1
    console.screenshot("08-exports")
    page.get_by_role("button", name="Links").first.click()
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_selector(".links td:text('revoked')")
    assert console.system.anonymous().get(link).status_code == 404
    assert console.errors == []
    assert prompt["best_version_no"] == 2


def test_an_export_that_runs_as_a_job_shows_its_progress_then_the_download(
    console: Console, alice: User
) -> None:
    """POST /exports may answer 202 with a Location; the console polls it (with `wait`) until done."""
    prompt = alice.create_prompt(original_text="A long session")
    done = alice.http.post(
        "/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "markdown"}
    )
    assert done.status_code == 201, done.text
    job = done.json()
    polls: list[str] = []

    def accepted(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        queued = {**job, "status": "queued", "content_url": None}
        route.fulfill(status=202, headers={"Location": f"/api/v1/exports/{job['id']}"}, json=queued)

    def running(route: Route) -> None:
        polls.append(route.request.url)
        if len(polls) < 3:
            route.fulfill(json={**job, "status": "processing", "rows_rendered": 10 * len(polls)})
        else:
            route.fallback()

    console.sign_in(alice)
    page = console.page
    page.route(lambda url: url.endswith("/api/v1/exports"), accepted)
    page.route(lambda url: f"/api/v1/exports/{job['id']}?" in url, running)
    console.go(f"#/prompts/{prompt['id']}", ".export-panel")
    page.click("button[data-format=markdown]")
    page.wait_for_selector(".export-state:has(progress):text('20 rows rendered')")
    assert re.search(r"processing: 20 rows rendered · \d+\.\d s", page.inner_text(".export-state"))
    with page.expect_download() as download:
        page.click(".export-state button.download")
    assert Path(download.value.path()).read_bytes().startswith(b"#")
    assert len(polls) == 3 and all("wait=" in url for url in polls), polls


def test_an_artifact_and_a_dataset_offer_every_format(console: Console, alice: User) -> None:
    make_session(alice)
    console.sign_in(alice)
    page = console.page
    console.go("#/chats/c1", "#file-table")
    page.get_by_role("button", name="Export…").click()
    formats = ["json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx"]
    panel = page.locator(".export-panel", has_text="Export “Sales”")
    assert panel.locator("button.format").evaluate_all("bs => bs.map(b => b.dataset.format)") == formats
    console.go("#/exports", "#dataset-select")
    page.select_option("#dataset-select", "feedback")
    panel = page.locator(".export-panel", has_text="Dataset feedback")
    assert panel.locator("button.format").evaluate_all("bs => bs.map(b => b.dataset.format)") == [
        *formats,
        "jsonl",
        "parquet",
    ]
    panel.locator("button[data-format=csv]").click()
    with page.expect_download() as csv:
        panel.locator(".export-state button.download").click()
    assert b"req-console" in Path(csv.value.path()).read_bytes()
    assert console.errors == []


def test_feedback_is_recorded_from_the_prompt_page(console: Console, alice: User) -> None:
    prompt = alice.create_prompt(request_id="req-fb", versions=[{"text": "v1", "source": "multi"}])
    console.sign_in(alice)
    page = console.page
    console.go(f"#/prompts/{prompt['id']}", "h2:text('Feedback')")
    page.get_by_label("User chose").select_option("single")
    page.get_by_label("Judge winner").fill("multi")
    page.get_by_label("Agent winner").fill("single")
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_selector("#feedback-table")
    [feedback] = alice.http.get("/api/v1/feedback", params={"request_id": "req-fb"}).json()["items"]
    assert (feedback["user_choice"], feedback["judge_correct"]) == ("single", False)
    assert "no" in page.inner_text("#feedback-table")


def test_dropping_editing_and_deleting_chat_files(console: Console, alice: User) -> None:
    alice.http.put(
        "/api/v1/chats/c2/files/todo.md", content=b"- one\n", headers={"Content-Type": "text/markdown"}
    )
    alice.http.put("/api/v1/chats/c2/files/gone.txt", content=b"bye")
    console.sign_in(alice)
    page = console.page
    console.go("#/chats/c2", "#file-table")
    page.get_by_role("button", name="Edit todo.md").click()
    page.get_by_label("Contents of todo.md").fill("- one\n- two\n")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#status:text('Saved todo.md')")
    assert alice.http.get("/api/v1/chats/c2/files/todo.md").content == b"- one\n- two\n"
    page.eval_on_selector(
        "#dropzone",
        """zone => { const files = new DataTransfer();
        files.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true })); }""",
    )
    page.wait_for_selector("tr[data-filename='dropped.txt']")
    assert alice.http.get("/api/v1/chats/c2/files/dropped.txt").content == b"dropped"
    page.get_by_role("button", name="Delete gone.txt").click()  # the confirmation is accepted
    page.wait_for_selector("tr[data-filename='gone.txt']", state="detached")
    assert alice.http.get("/api/v1/chats/c2/files/gone.txt").status_code == 404
    assert console.errors == []


def test_user_data_with_markup_renders_as_text(console: Console, alice: User) -> None:
    prompt = alice.create_prompt(
        original_text=XSS_TEXT,
        versions=[{"text": "<script>window.__xss=3</script>", "source": "<b>agent</b>", "scores": scores(5)}],
    )
    assert alice.http.put(f"/api/v1/chats/x/files/{XSS_FILENAME}", content=b"x").status_code == 201
    console.sign_in(alice)
    page = console.page
    assert page.get_by_role("link", name=XSS_TEXT).count() == 1
    console.go(f"#/prompts/{prompt['id']}", ".version.best")
    assert page.inner_text("#prompt-text") == XSS_TEXT
    assert "<script>window.__xss=3</script>" in page.inner_text(".version.best")
    console.go("#/chats/x", "#file-table")
    assert page.locator("td.filename").inner_text() == XSS_FILENAME
    console.screenshot("09-markup-as-text")
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script, main b").count() == 0


def test_keyboard_reaches_the_main_controls(console: Console, alice: User) -> None:
    alice.create_prompt(original_text="Keyboard only")
    console.sign_in(alice)
    page = console.page
    page.reload()  # a fresh load: focus starts at the top of the document
    page.wait_for_selector("#prompt-table")
    reached: list[str] = []
    while "Keyboard only" not in reached and len(reached) < 20:
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.labels && e.labels[0] ? e.labels[0].textContent : e.textContent).trim(); }"
            )
        )
    expected = ["Skip to content", "Prompts", "Agents", "Chats", "Exports", "Sign out"]
    expected += ["Text contains", "Agent type", "Search", "Keyboard only"]
    assert [c for c in reached if c in expected] == expected, reached
    page.keyboard.press("Enter")  # on the prompt's link
    page.wait_for_selector("h2:text('Versions')")


def test_every_control_has_a_label(console: Console, alice: User) -> None:
    prompt = make_session(alice)
    console.sign_in(alice)
    for route, ready in (
        ("#/prompts", "#prompt-table"),
        (f"#/prompts/{prompt['id']}", ".version.best"),
        ("#/chats", "#chat-table"),
        ("#/chats/c1", "#file-table"),
        ("#/exports", ".export-panel"),
    ):
        console.go(route, ready)
        unlabelled = console.page.eval_on_selector_all(
            "main input, main select, main textarea, main button",
            "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
            " && !e.textContent.trim()).map(e => e.outerHTML)",
        )
        assert unlabelled == [], route


def test_readable_at_400_percent_zoom(console: Console, alice: User) -> None:
    prompt = make_session(alice)
    console.sign_in(alice)
    page = console.page
    page.set_viewport_size({"width": 320, "height": 640})  # 1280 CSS pixels at 400 %
    for route, ready in ((f"#/prompts/{prompt['id']}", ".version.best"), ("#/agents", "svg.chart")):
        console.go(route, ready)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{route} scrolls sideways by {overflow}px at 320px wide"
        smallest = page.eval_on_selector_all(
            "main svg text", "texts => Math.min(...texts.map(t => t.getBoundingClientRect().height))"
        )
        assert smallest >= 10, f"{route}: chart text {smallest:.1f}px high at 320px wide"
    console.screenshot("10-zoomed")


def test_the_development_token_is_offered_from_the_link_and_used_only_when_chosen(
    console: Console, alice: User
) -> None:
    page = console.page
    console.open(f"#token={alice.token}")
    page.wait_for_selector("#use-offered")
    assert alice.token not in page.url
    assert alice.id in page.inner_text(".offer")
    assert page.evaluate("sessionStorage.length") == 0
    page.click("#use-offered")
    page.wait_for_selector("h1:text-is('Prompts')")
    assert page.evaluate("sessionStorage.getItem('depot.token')") == alice.token


@pytest.mark.parametrize("signed_by", ["nobody", "another-secret"])
def test_a_bad_token_is_refused_with_a_message(console: Console, signed_by: str) -> None:
    token = (
        "not-a-token"
        if signed_by == "nobody"
        else mint_token(secret="another-secret-" + "x" * 32, user_id="mallory")
    )
    console.open()
    console.page.fill("#token-input", token)
    console.page.get_by_role("button", name="Sign in", exact=True).click()
    assert console.page.wait_for_selector(".error[role=alert]:not(:empty)").inner_text()
    assert console.page.evaluate("sessionStorage.length") == 0


def test_depot_up_offers_the_development_token_in_a_link_fragment(capsys: pytest.CaptureFixture[str]) -> None:
    class Stack:
        http_url = "http://127.0.0.1:8080"

        def grpc_address(self, service: str) -> str:
            return "127.0.0.1:50051"

    up._greet(Stack(), {"DEPOT_JWT_SECRET": "s" * 32})  # type: ignore[arg-type]
    printed = capsys.readouterr().out
    link = next(line for line in printed.splitlines() if line.startswith("Console: "))
    url = link.split()[1]
    assert url.startswith("http://127.0.0.1:8080/#token=")  # a fragment: no request or log carries it
    assert f"export TOKEN={url.split('#token=')[1]}" in printed


def test_navigation_keeps_the_navigation_bar_in_view(console: Console, alice: User) -> None:
    prompt = make_session(alice)
    console.sign_in(alice)
    page = console.page
    steps = [
        (
            lambda: page.get_by_role("link", name="Summarise the quarterly report for the board").click(),
            ".version.best",
        ),
        (lambda: page.get_by_role("link", name="Agents").click(), "svg.chart"),
        (lambda: page.get_by_role("link", name="Exports").click(), ".export-panel"),
        (lambda: console.go(f"#/prompts/{prompt['id']}", ".version.best"), ".version.best"),
    ]
    for step, ready in steps:
        step()
        page.wait_for_selector(ready)
        page.wait_for_function("document.activeElement.id === 'main'")
        top = page.evaluate("document.getElementById('nav').getBoundingClientRect().top")
        scrolled = page.evaluate("window.scrollY")
        assert (scrolled, top >= 0) == (0, True), f"{page.url}: scrolled {scrolled}px, nav top at {top}px"
    assert console.errors == []


def test_someone_elses_or_a_missing_prompt_is_not_found_with_a_way_back(
    console: Console, alice: User, bob: User
) -> None:
    theirs = bob.create_prompt(original_text="Bob's own prompt")
    alice.create_prompt(original_text="Alice's prompt")
    console.sign_in(alice)
    page = console.page
    for prompt_id in (theirs["id"], "00000000-0000-4000-8000-000000000000"):
        console.go(f"#/prompts/{prompt_id}", "h1:text-is('Not found')")
        assert "Something went wrong" not in page.inner_text("main")
        assert "Bob's own prompt" not in page.inner_text("main")
    console.screenshot("11-not-found")
    page.get_by_role("link", name="All prompts").click()
    page.wait_for_selector('#prompt-table a.prompt-link:text-is("Alice\'s prompt")')


def test_version_cards_show_the_explanation(console: Console, alice: User) -> None:
    prompt = alice.create_prompt(
        versions=[
            {
                "text": "v1",
                "source": "multi",
                "explanation": {"changes": ["audience", "figures"], "why": "<b>x</b>"},
            },
            {"text": "v2", "source": "single"},
        ]
    )
    console.sign_in(alice)
    console.go(f"#/prompts/{prompt['id']}", ".version[data-version='1'] .explanation-json")
    shown = json.loads(console.page.inner_text(".version[data-version='1'] .explanation-json"))
    assert shown == {"changes": ["audience", "figures"], "why": "<b>x</b>"}
    assert console.page.locator(".version[data-version='2'] .explanation").count() == 0


def test_export_history_names_the_prompt_and_the_artifact_and_tells_safe_from_raw_csv(
    console: Console, alice: User
) -> None:
    prompt = make_session(alice)
    [artifact] = alice.http.get("/api/v1/chats/c1/artifacts").json()["items"]
    for source, options in (
        (f"prompts/{prompt['id']}", {"csv_mode": "safe"}),
        (f"prompts/{prompt['id']}", {"csv_mode": "raw"}),
        (f"artifacts/{artifact['id']}", {}),
    ):
        reply = alice.http.post(
            "/api/v1/exports", json={"source": source, "format": "csv", "options": options}
        )
        assert reply.status_code == 201, reply.text
    console.sign_in(alice)
    page = console.page
    console.go("#/exports", ".export-history tr[data-export]")
    page.wait_for_selector(".export-history td.source:text('Artifact “Sales”')")
    page.wait_for_selector(".export-history td.source:text('Prompt “Summarise the quarterly report')")
    rows = page.locator(".export-history tr[data-export]")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert len(texts) == 3 and not [t for t in texts if prompt["id"][:8] in t], texts
    options = page.locator(".export-history td.options").all_inner_texts()
    assert sorted(options) == sorted(["safe CSV", "raw CSV, all versions", "safe CSV, all versions"]), options
    console.screenshot("12-export-history")
    assert console.errors == []


def test_an_artifact_is_previewed_by_its_first_rows(console: Console, alice: User) -> None:
    rows = [[f"r{i}", i] for i in range(30)]
    body = {"title": "Big table", "columns": ["name", "n"], "rows": rows}
    assert alice.http.post("/api/v1/chats/p1/artifacts", json=body).status_code == 201
    console.sign_in(alice)
    page = console.page
    console.go("#/chats/p1", "h2:text('Table artifacts')")
    page.get_by_role("button", name="Preview Big table").click()
    preview = page.wait_for_selector("table.artifact-preview")
    assert "first 20 of 30 rows" in preview.inner_text()
    assert page.locator("table.artifact-preview tbody tr").count() == 20
    assert page.locator("table.artifact-preview tbody tr").first.inner_text().split() == ["r0", "0"]
    assert console.errors == []


def test_a_prompt_is_created_given_a_version_and_scored_from_the_console(
    console: Console, alice: User
) -> None:
    console.sign_in(alice)
    page = console.page
    page.get_by_text("New prompt", exact=True).click()
    page.get_by_label("Original text").fill("Plan a product launch")
    page.get_by_label("Request id").fill("req-made-in-console")
    page.get_by_label("First version").fill("Plan the launch in three phases.")
    page.get_by_label("Its source (agent)").fill("single")
    page.get_by_role("button", name="Create prompt").click()
    page.wait_for_selector(".version[data-version='1']")
    page.get_by_label("Version text").fill("Plan the launch in three phases with owners and dates.")
    page.get_by_label("Source (agent)", exact=True).fill("multi")
    page.get_by_role("button", name="Add version").click()
    card = page.wait_for_selector(".version[data-version='2']")
    assert "from multi · parent v1" in card.inner_text()
    version = page.locator(".version[data-version='2']")
    version.get_by_text("Score this version").click()
    for criterion, value in zip(
        ("clarity", "specificity", "actionability", "structure", "context use"), "98787", strict=True
    ):
        version.get_by_label(criterion, exact=True).fill(value)
    version.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_selector(".version.best[data-version='2']")
    page.wait_for_selector("#status:text('the best head is v2')")
    [listed] = alice.http.get("/api/v1/prompts").json()["items"]
    prompt = alice.http.get(f"/api/v1/prompts/{listed['id']}").json()
    assert (prompt["request_id"], prompt["version_count"], prompt["best_version_no"]) == (
        "req-made-in-console",
        2,
        2,
    )
    assert prompt["versions"][1]["scores"]["total"] == 39
    console.screenshot("13-created-in-console")
    assert console.errors == []


def test_an_export_job_shows_rows_and_elapsed_time_then_its_result(console: Console, alice: User) -> None:
    make_session(alice)
    console.sign_in(alice)
    page = console.page
    console.go("#/exports", "#dataset-select")
    page.select_option("#dataset-select", "temporal")
    panel = page.locator(".export-panel", has_text="Dataset temporal")
    panel.locator("button[data-format=csv]").click()
    done = panel.locator(".export-state .done")
    done.wait_for()
    assert re.fullmatch(r"Ready in \d+\.\d s: 4 rows, [\d.]+ (B|KiB)\. ", done.inner_text() + " "), (
        done.inner_text()
    )
    assert console.errors == []
