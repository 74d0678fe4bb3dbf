"""Reliability suites: fixtures, the `--long` switch and the summary table printed at the end.

Every test module is one suite (`test_isolation.py` → `isolation`). A test counts as one trial
unless it reports its own count through the `suite` fixture, which also carries figures
(latencies, memory, counts) into the table: suite | tests | trials | failures | figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.system import Database, System, User


@dataclass
class SuiteResult:
    tests: int = 0
    trials: int = 0
    failures: int = 0
    figures: dict[str, str] = field(default_factory=dict)


_RESULTS: dict[str, SuiteResult] = {}
_REPORTED_TRIALS: dict[str, int] = {}


def suite_name(nodeid: str) -> str:
    return Path(nodeid.split("::", 1)[0]).stem.removeprefix("test_")


@dataclass
class Suite:
    """What a test tells the summary: how many trials it ran and figures worth printing."""

    name: str
    nodeid: str

    def trials(self, count: int) -> None:
        _REPORTED_TRIALS[self.nodeid] = _REPORTED_TRIALS.get(self.nodeid, 0) + count

    def figure(self, key: str, value: object) -> None:
        _RESULTS.setdefault(self.name, SuiteResult()).figures[key] = str(value)


@pytest.fixture
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(suite_name(request.node.nodeid), request.node.nodeid)


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under `--long` (`make reliability`): full trial counts instead of the CI sample."""
    return bool(request.config.getoption("--long"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The reconciler checks what every other suite left behind, so it runs last."""
    items.sort(key=lambda item: suite_name(item.nodeid) == "reconciler")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        result = _RESULTS.setdefault(suite_name(report.nodeid), SuiteResult())
        if report.skipped:
            return
        result.tests += 1
        result.trials += _REPORTED_TRIALS.pop(report.nodeid, 1)
        result.failures += 0 if report.passed else 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = [(name, r) for name, r in sorted(_RESULTS.items()) if r.tests]
    if not rows:
        return
    terminalreporter.section("reliability summary")
    header = f"{'suite':<14} {'tests':>5} {'trials':>7} {'failures':>8}  figures"
    terminalreporter.write_line(header)
    terminalreporter.write_line("-" * len(header))
    for name, r in rows:
        figures = ", ".join(f"{k}={v}" for k, v in r.figures.items())
        terminalreporter.write_line(f"{name:<14} {r.tests:>5} {r.trials:>7} {r.failures:>8}  {figures}")


@pytest.fixture
def carol(system: System) -> Iterator[User]:
    user = system.client()
    yield user
    user.http.close()


@pytest.fixture
def admin(system: System) -> Iterator[User]:
    user = system.client(admin=True)
    yield user
    user.http.close()


@pytest.fixture
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A PostgreSQL of the test's own, for faults that must not disturb the shared system."""
    database = Database.start(tmp_path_factory.mktemp("postgres"))
    yield database
    database.postgres.stop()
