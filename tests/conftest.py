"""Session fixtures: one embedded PostgreSQL, migrated once, and one running system on it.

Tests isolate themselves by acting as fresh users (every user sees only their own data), so
no test needs to reset the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import Database, System, User, wait_gateway_reaches_all


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


@pytest.fixture(autouse=True)
def _shared_processes_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test during which a process of the shared system died (naming it, with the end of
    its log: a crash in C code leaves its threads' stacks there) and starts it again, so that the
    tests after it fail for their own reasons, not with "connection refused" by the hundred."""
    yield
    if "system" not in request.fixturenames:
        return
    system: System = request.getfixturevalue("system")
    dead = system.stack.exited()
    if not dead:
        return
    report = []
    for name in dead:
        code = system.stack.processes[name].returncode
        log = system.stack.log_dir / f"{name}.log" if system.stack.log_dir is not None else None
        tail = log.read_text(errors="replace").splitlines()[-40:] if log is not None and log.exists() else []
        report.append(f"{name} exited with code {code}; its log ends:\n" + "\n".join(tail))
        system.stack.restart_process(name)
    deadline = time.monotonic() + 60
    for name in dead:
        if name != "gateway":
            system.stack.wait_serving(name, deadline=deadline)
    wait_gateway_reaches_all(system.stack, deadline=deadline)
    pytest.fail("a process of the shared system died (started again):\n" + "\n\n".join(report))


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
