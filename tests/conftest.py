"""Session fixtures: one embedded PostgreSQL, migrated once, and one running system on it.

Tests isolate themselves by acting as fresh users (every user sees only their own data), so
no test needs to reset the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import Database, System, User


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long reliability suites in full")


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database.start(tmp_path_factory.mktemp("postgres"))
    yield database
    database.postgres.stop()


@pytest.fixture(scope="session")
def system(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System.running(database, Path(tmp_path_factory.mktemp("system"))) as system:
        yield system


@pytest.fixture
def alice(system: System) -> Iterator[User]:
    user = system.client()
    yield user
    user.http.close()


@pytest.fixture
def bob(system: System) -> Iterator[User]:
    user = system.client()
    yield user
    user.http.close()
