"""A system of its own for the webhook tests: private targets allowed (the receiver is on
127.0.0.1), fast retries, a subscription disabled after 5 failed attempts in a row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import System, User
from tests.webhooks.receiver import Receiver

SETTINGS = {
    "DEPOT_WEBHOOK_ALLOW_PRIVATE": "true",
    "DEPOT_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "DEPOT_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "DEPOT_WEBHOOK_MAX_ATTEMPTS": "8",
    "DEPOT_WEBHOOK_DISABLE_AFTER_FAILURES": "5",
    "DEPOT_WEBHOOK_TIMEOUT_SECONDS": "3",
    "DEPOT_WEBHOOK_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
def hooked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One system per test module; a module's EXTRA_SETTINGS add to or change SETTINGS."""
    settings = {**SETTINGS, **getattr(request.module, "EXTRA_SETTINGS", {})}
    with System.on_own_database(Path(tmp_path_factory.mktemp("webhooks")), **settings) as system:
        yield system


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture
def carol(hooked: System) -> Iterator[User]:
    user = hooked.client()
    yield user
    user.http.close()


@pytest.fixture
def dave(hooked: System) -> Iterator[User]:
    user = hooked.client()
    yield user
    user.http.close()
