"""A download is counted once its bytes have gone out, not when it opens (issue 15): a client that
leaves after the first bytes is no download, and a whole one is counted by the time it has read
the last byte."""

from __future__ import annotations

import random
import string

from tests.exports.conftest import export_ok
from tests.support.system import User

IDENTITY = {"Accept-Encoding": "identity"}  # the decoded csv: many more chunks than any buffer holds


def large_dataset(user: User, *, prompts: int = 4, versions: int = 30) -> None:
    """About 3 MB of random text in each of `prompts` prompts (the most one prompt holds)."""
    rng = random.Random(15)
    alphabet = string.ascii_letters + string.digits + " "
    for p in range(prompts):
        prompt = user.create_prompt(original_text=f"A download of this is counted once ({p})")
        for i in range(versions):  # one by one: a request body holds at most 1 MiB
            text = "".join(rng.choices(alphabet, k=100_000))
            reply = user.http.post(
                f"/api/v1/prompts/{prompt['id']}/versions", json={"text": text, "source": f"agent{i}"}
            )
            assert reply.status_code == 201, reply.text


def test_a_download_cut_short_is_not_counted_and_a_whole_one_is(alice: User) -> None:
    large_dataset(alice)
    export = export_ok(alice, "datasets/temporal", "csv")
    assert export["size_bytes"] > 10_000_000
    url = f"/api/v1/exports/{export['id']}/content"
    for _ in range(3):
        with alice.http.stream("GET", url, headers=IDENTITY) as reply:
            assert reply.status_code == 200
            assert next(reply.iter_raw())  # the first bytes, then the client goes away
    whole = alice.http.get(url, headers=IDENTITY)
    assert whole.status_code == 200 and len(whole.content) == export["size_bytes"]
    fetched = alice.http.get(f"/api/v1/exports/{export['id']}").json()
    assert fetched["download_count"] == 1, "three clients left after the first bytes; one read it all"
