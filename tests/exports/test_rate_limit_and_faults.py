"""Render rate limits and a failing download, on a system of their own (a low limit; a killed service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.exports.conftest import create_session, export, follow
from tests.support.system import System, User

LIMIT = 3


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("limited"))
    with System.on_own_database(directory, DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE=str(LIMIT)) as system:
        yield system


@pytest.fixture
def carol(limited: System) -> Iterator[User]:
    user = limited.client()
    yield user
    user.http.close()


def test_renders_beyond_the_limit_are_429_with_retry_after_but_stored_exports_are_served(
    carol: User, limited: System
) -> None:
    session = create_session(carol, feedback=False)
    source = f"prompts/{session.id}"
    for fmt in ("json", "yaml", "text")[:LIMIT]:
        assert export(carol, source, fmt).status_code == 201
    refused = export(carol, source, "markdown")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    message = refused.json()["error"]["message"]
    [limit] = [d for d in refused.json()["error"]["details"] if d.get("reason") == "RATE_LIMITED"]
    assert limit["metadata"].get("retry_after") == refused.headers["retry-after"], (
        f"Retry-After must be the service's own figure, got {refused.headers['retry-after']} and {limit}"
    )
    assert message.endswith(f"retry in {refused.headers['retry-after']} s"), (
        f"the message and Retry-After disagree: {message!r} vs {refused.headers['retry-after']}"
    )
    assert export(carol, source, "json").status_code == 200, "a stored export is never limited"
    assert (
        carol.http.get(f"/api/v1/prompts/{session.id}/export/download", params={"format": "yaml"}).status_code
        == 200
    )
    seed = carol.http.get(f"/api/v1/prompts/{session.id}/export/download", params={"format": "docx"})
    assert seed.status_code == 429 and "retry-after" in seed.headers
    other = limited.client()
    try:
        assert export(other, f"prompts/{create_session(other).id}", "json").status_code == 201, (
            "limits are per user"
        )
    finally:
        other.http.close()


def test_a_failure_in_the_middle_of_a_download_breaks_the_transfer(carol: User, limited: System) -> None:
    """Killing the exports service mid-stream must not end in a 200 whose body looks complete."""
    text = "x" * 9_000
    for _ in range(24):  # about 20 MB of CSV, far more than the buffers between the services hold
        carol.create_prompt(versions=[{"text": text, "source": "syntax"} for _ in range(100)])
    accepted = export(carol, "datasets/temporal", "csv")
    assert accepted.status_code == 202, accepted.text
    created = follow(carol, accepted)
    size = created["size_bytes"]
    assert size > 20_000_000
    received = 0
    plain = {"Accept-Encoding": "identity"}  # decoded on the way: the full size crosses the wire
    with (
        pytest.raises(httpx.HTTPError),
        carol.http.stream("GET", created["content_url"], headers=plain) as reply,
    ):
        assert reply.status_code == 200
        assert reply.headers["content-length"] == str(size)
        chunks = reply.iter_raw()
        received += len(next(chunks))
        limited.stack.processes["exports"].kill()
        for chunk in chunks:
            received += len(chunk)
    assert received < size
