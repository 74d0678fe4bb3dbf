"""A crowd downloading one export, half of it going away after the first bytes, on every blob store:
every client that stays gets the exact bytes, and the exports process neither dies nor logs a
failure (a stream read in one thread and closed from another, issue 12 item 0).

Bounded to seconds here (3 rounds of 60); tests/reliability/test_download_stress.py runs more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.exports.stress import crowd, exports_log, forbidden_lines, large_export, store_settings
from tests.support.system import System

ROUNDS, CLIENTS = 3, 60


@pytest.fixture(scope="module", params=["postgres", "local", pytest.param("s3", marks=pytest.mark.s3)])
def crowded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    store = request.param
    directory = Path(tmp_path_factory.mktemp(f"crowd-{store}"))
    s3 = request.getfixturevalue("s3_server") if store == "s3" else None
    with System.on_own_database(directory, **store_settings(store, directory, s3)) as system:
        yield system


def test_a_crowd_that_goes_away_mid_download_leaves_the_exports_process_whole(crowded: System) -> None:
    user = crowded.client()
    export = large_export(user)
    exports = crowded.stack.processes["exports"]
    for round_no in range(ROUNDS):
        outcome = crowd(user, export, clients=CLIENTS)
        assert outcome.wrong == [], f"round {round_no}: clients got wrong answers: {outcome.wrong[:5]}"
        assert (outcome.completed, outcome.cut) == (CLIENTS // 2, CLIENTS // 2)
    assert exports.poll() is None, f"the exports process exited with {exports.returncode}"
    assert crowded.stack.processes["exports"].pid == exports.pid
    assert forbidden_lines(exports_log(crowded)) == [], "the exports process logged failures"
