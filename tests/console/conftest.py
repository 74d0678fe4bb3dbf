"""A headless Chromium (Debian's, driven by Playwright) for the console's end-to-end tests.

The browser is the system's own `chromium`; nothing is downloaded. Without it the tests are skipped
with the reason. Screenshots go to `test-artifacts/console/` (ignored by git), one per page.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.system import System, User

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
# Offline and quiet: no sandbox (containers), no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` on PATH: the console's browser tests need Debian's chromium (.ci/run installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module-scoped: Playwright's sync API keeps an event loop running on this thread while it is
    # open, and later tests call asyncio.run().
    with sync_playwright() as playwright:
        assert CHROMIUM is not None
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """One browser tab on the console, with what went wrong in it collected for the assertions."""

    def __init__(self, page: Page, system: System) -> None:
        self.page = page
        self.system = system
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console_message)
        page.on("dialog", lambda dialog: dialog.accept())

    def _console_message(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.system.url}/{route}")

    def sign_in(self, user: User) -> None:
        """Pastes the user's token into the sign-in form, as a person would."""
        self.open()
        self.page.fill("#token-input", user.token)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.page.wait_for_selector("h1:text-is('Prompts')")

    def go(self, route: str, ready: str) -> None:
        """Follows an in-console route and waits for a selector that says the page is there."""
        self.page.evaluate("route => { location.hash = route; }", route)
        self.page.wait_for_selector(ready, state="attached")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console(browser: Browser, system: System) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    yield Console(context.new_page(), system)
    context.close()
