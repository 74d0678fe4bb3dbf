"""`:replace` costs a bounded amount of memory and never stalls other users, whatever the replacement asks for.

The files service's resident memory is sampled while hostile edits run, and another user's cheap
request is timed meanwhile (issue 13, item 1: a 1 MiB file of "a" with a 500-character replacement
grew the service by ~1 GiB and held everyone else up for about a second).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.files.support import file_url, reason, stored
from tests.support.resources import run_beside_another_user
from tests.support.system import System, User

MIB = 1024 * 1024
MAX_FILE_BYTES = 25 * MIB  # the test system's DEPOT_MAX_FILE_BYTES
RSS_GROWTH_BOUND = 150 * MIB
OTHER_USER_LATENCY_BOUND_SECONDS = 2.0


def _run_beside_another_user(
    system: System, bob: User, hostile: Callable[[], list[int]]
) -> tuple[list[int], int, float]:
    """Runs `hostile` while bob lists his chats in a loop; returns its statuses, RSS growth, bob's worst wait."""

    def cheap() -> None:
        assert bob.http.get("/api/v1/chats").status_code == 200

    return run_beside_another_user(system, "files", cheap, hostile)


def _replace(user: User, chat: str, name: str, body: dict[str, object]) -> int:
    reply = user.http.post(file_url(chat, name) + ":replace", json=body)
    if reply.status_code == 413:
        assert reason(reply) == "FILE_TOO_LARGE", reply.text
    return reply.status_code


def test_a_replace_whose_result_would_exceed_the_limit_is_refused_before_it_is_built(
    system: System, alice: User, bob: User
) -> None:
    original = stored(alice, "c1", "a.txt", b"a" * MIB)
    edit = {"old": "a", "new": "b" * 500}  # a 500 MiB result

    def hostile() -> list[int]:
        with ThreadPoolExecutor(3) as pool:
            return list(pool.map(lambda _: _replace(alice, "c1", "a.txt", edit), range(3)))

    statuses, growth, worst = _run_beside_another_user(system, bob, hostile)
    assert statuses == [413, 413, 413]
    assert growth < RSS_GROWTH_BOUND, f"the files service grew by {growth / MIB:.0f} MiB"
    assert worst < OTHER_USER_LATENCY_BOUND_SECONDS, f"another user's request waited {worst:.2f} s"
    assert alice.http.get(file_url("c1", "a.txt")).headers["etag"] == f'"{original["sha256"]}"'


def test_a_ten_mib_file_with_a_long_replacement_is_refused_at_once(
    system: System, alice: User, bob: User
) -> None:
    stored(alice, "c1", "big.txt", b"x" * (10 * MIB))
    edit = {"old": "x", "new": "y" * 1000}  # would be 10 GB of text

    statuses, growth, worst = _run_beside_another_user(
        system, bob, lambda: [_replace(alice, "c1", "big.txt", edit)]
    )
    assert statuses == [413]
    assert growth < RSS_GROWTH_BOUND, f"the files service grew by {growth / MIB:.0f} MiB"
    assert worst < OTHER_USER_LATENCY_BOUND_SECONDS, f"another user's request waited {worst:.2f} s"


def test_a_large_edit_within_the_limit_is_exact_and_bounded_in_memory(
    system: System, alice: User, bob: User
) -> None:
    line = "ab ab aab é\n"  # matches of "ab" next to each other, and a two-byte character
    text = line * (8 * MIB // len(line.encode()))
    stored(alice, "c1", "lines.txt", text.encode())
    expected = text.replace("ab", "xyz", 1_000_000).encode()

    statuses, growth, worst = _run_beside_another_user(
        system,
        bob,
        lambda: [_replace(alice, "c1", "lines.txt", {"old": "ab", "new": "xyz", "count": 1_000_000})],
    )
    assert statuses == [200]
    assert growth < RSS_GROWTH_BOUND, f"the files service grew by {growth / MIB:.0f} MiB"
    assert worst < OTHER_USER_LATENCY_BOUND_SECONDS, f"another user's request waited {worst:.2f} s"
    with alice.http.stream("GET", file_url("c1", "lines.txt")) as reply:
        received = b"".join(reply.iter_raw())
    assert (len(received), hashlib.sha256(received).hexdigest()) == (
        len(expected),
        hashlib.sha256(expected).hexdigest(),
    )


def test_a_replace_that_lands_exactly_on_the_limit_is_accepted(alice: User) -> None:
    stored(alice, "c1", "edge.txt", b"-" * (MAX_FILE_BYTES - 10) + b"0123456789")
    reply = alice.http.post(file_url("c1", "edge.txt") + ":replace", json={"old": "0", "new": "01"})
    assert reply.status_code == 413, reply.text
    reply = alice.http.post(file_url("c1", "edge.txt") + ":replace", json={"old": "01", "new": "1"})
    assert (reply.status_code, reply.json()["size_bytes"]) == (200, MAX_FILE_BYTES - 1)
    reply = alice.http.post(file_url("c1", "edge.txt") + ":replace", json={"old": "1", "new": "10"})
    assert (reply.status_code, reply.json()["size_bytes"]) == (200, MAX_FILE_BYTES)
