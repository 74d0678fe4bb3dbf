"""The account page in a browser: a takeout downloaded, restored into another account, and an
erasure confirmed in a dialog that names what goes, after which nothing of the account is left."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.console.conftest import Console, needs_chromium
from tests.support.system import System, User

pytestmark = needs_chromium


def seed(user: User) -> None:
    for n in range(2):
        user.create_prompt(original_text=f"Account page prompt {n}", request_id=f"acct-{n}")
    reply = user.http.put("/api/v1/chats/acct/files/a.txt", content=b"account page bytes")
    assert reply.status_code in (200, 201), reply.text


def test_the_account_page_takes_out_restores_and_erases(
    console: Console, system: System, alice: User, bob: User, tmp_path: Path
) -> None:
    seed(alice)
    console.sign_in(alice)
    page = console.page
    console.go("#/account", "#erase-button")
    assert "2 prompts" in page.inner_text("#erase") and "1 file" in page.inner_text("#erase")

    with page.expect_download(timeout=120_000) as downloading:
        page.get_by_role("button", name="Take out everything").click()
    archive = tmp_path / "takeout.zip"
    downloading.value.save_as(archive)
    page.wait_for_selector("#takeout-status:has-text('Downloaded')")
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as opened:
        manifest = json.loads(opened.read("manifest.json"))
    paths = [e["path"] for e in manifest["entries"]]
    assert "chats/acct/files/a.txt" in paths and sum(p.startswith("prompts/") for p in paths) == 2, paths

    console.screenshot("account")
    page.get_by_role("button", name="Sign out").click()
    console.sign_in(bob)
    console.go("#/account", "#restore-file")
    page.set_input_files("#restore-file", str(archive))
    page.get_by_role("button", name="Restore", exact=True).click()
    page.wait_for_selector("#restore-status:has-text('Restore completed')", timeout=120_000)
    restored = bob.http.get("/api/v1/prompts").json()["items"]
    assert sorted(p["original_text"] for p in restored) == ["Account page prompt 0", "Account page prompt 1"]

    page.get_by_role("button", name="Sign out").click()
    console.sign_in(alice)
    console.go("#/account", "#erase-button")
    page.get_by_role("button", name="Erase account…").click()
    dialog = page.locator("#erase-dialog")
    assert dialog.is_visible()
    what = page.inner_text("#erase-what")
    assert "2 prompts" in what and "1 chat" in what and "1 file" in what and "1 export" in what, what
    page.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible() and alice.http.get("/api/v1/prompts").json()["items"], (
        "cancel erases nothing"
    )
    page.get_by_role("button", name="Erase account…").click()
    page.get_by_role("button", name="Erase everything").click()
    page.wait_for_selector("#erase-done", timeout=120_000)
    for path in ("/api/v1/prompts", "/api/v1/chats", "/api/v1/exports"):
        assert alice.http.get(path).json()["items"] == [], path
    assert len(bob.http.get("/api/v1/prompts").json()["items"]) == 2, "the other account is untouched"
    assert console.errors == []
