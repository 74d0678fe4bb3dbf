"""The webhooks page in a browser: add a subscription (its secret shown once), send a test event
to a real receiver and read the delivery log, then delete it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from standardwebhooks.webhooks import Webhook as Verifier

from tests.console.conftest import Console, needs_chromium
from tests.support.system import System
from tests.webhooks.conftest import SETTINGS
from tests.webhooks.receiver import Receiver

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A system whose webhooks may reach the receiver on 127.0.0.1."""
    with System.on_own_database(Path(tmp_path_factory.mktemp("console-webhooks")), **SETTINGS) as system:
        yield system


@pytest.fixture
def hooked_console(browser: Browser, hooked: System) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    yield Console(context.new_page(), hooked)
    context.close()


def test_a_webhook_is_added_tested_read_and_deleted(hooked_console: Console, hooked: System) -> None:
    console, user = hooked_console, hooked.client()
    with Receiver().running() as receiver:
        url = receiver.url("/console")
        console.sign_in(user)
        page = console.page
        console.go("#/webhooks", "#webhook-form")
        assert page.inner_text("main").count("No webhooks yet.") == 1
        page.get_by_label("URL").fill(url)
        page.get_by_role("button", name="Add webhook").click()
        page.wait_for_selector("#webhook-secret")
        secret = page.inner_text("[data-secret]")
        assert secret.startswith("whsec_")
        page.wait_for_selector("#webhook-table")
        [hook] = user.http.get("/api/v1/webhooks").json()["items"]
        assert hook["url"] == url and "prompt.created" in hook["events"]

        page.get_by_role("link", name=url).click()
        page.wait_for_selector("#webhook-test")
        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_selector("#delivery-table tr[data-status='delivered']")
        [request] = receiver.wait_for("/console", 1)
        assert Verifier(secret).verify(request.body, request.headers)["type"] == "webhook.test"
        assert "#1 204" in page.inner_text("#delivery-table")
        console.screenshot("webhook-deliveries")

        page.get_by_role("link", name="← All webhooks").click()
        page.get_by_role("button", name=f"Delete webhook for {url}").click()
        page.wait_for_selector("text=No webhooks yet.")
        assert user.http.get("/api/v1/webhooks").json()["items"] == []
        assert console.errors == []
