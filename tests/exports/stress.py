"""Many parallel downloads of one export, half of them cut off after their first bytes.

What a crowd of real clients does to the exports process: each download is a stream the service
reads from its blob store while the gateway relays it, and a client that goes away cancels that
stream mid-read. Shared by the short test (tests/exports) and the long one (tests/reliability).
"""

from __future__ import annotations

import hashlib
import random
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.exports.conftest import export_ok
from tests.support.s3 import S3Server
from tests.support.system import System, User

# What must never appear in the exports process's log, however many clients go away mid-stream.
FORBIDDEN_LOG = ("rpc_failed", "generator already executing", "Traceback")


def store_settings(store: str, directory: Path, s3: S3Server | None) -> dict[str, str]:
    """The settings of a system whose export bytes live in `store` (postgres, local or s3)."""
    if store == "postgres":
        return {"DEPOT_BLOB_STORE": "postgres"}
    if store == "local":
        return {"DEPOT_BLOB_STORE": f"local:{directory / 'blobs'}"}
    assert s3 is not None, "the s3 store needs a running S3 server"
    return {
        "DEPOT_BLOB_STORE": f"s3://{s3.bucket}",
        "DEPOT_S3_ENDPOINT_URL": s3.endpoint_url,
        **s3.credentials(),
    }


def large_export(user: User, *, versions: int = 24) -> dict[str, Any]:
    """A text export of a few MiB, stored gzip-compressed in several store chunks (random text
    compresses to about three quarters, so 2.4 MB of it is three 1 MiB chunks)."""
    rng = random.Random(12)
    alphabet = string.ascii_letters + string.digits + " "
    prompt = user.create_prompt(original_text="A crowd downloads this")
    for i in range(versions):  # one by one: a request body holds at most 1 MiB
        text = "".join(rng.choices(alphabet, k=100_000))
        reply = user.http.post(
            f"/api/v1/prompts/{prompt['id']}/versions", json={"text": text, "source": f"agent{i}"}
        )
        assert reply.status_code == 201, reply.text
    return export_ok(user, f"prompts/{prompt['id']}", "text")


@dataclass
class Outcome:
    """What the clients of one or more rounds saw."""

    completed: int = 0
    cut: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.completed += other.completed
        self.cut += other.cut
        self.wrong += other.wrong


def _download(client: httpx.Client, url: str, sha256: str, *, cut: bool, gzip: bool) -> Outcome:
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    with client.stream("GET", url, headers=headers) as reply:
        if reply.status_code != 200:
            return Outcome(wrong=[f"status {reply.status_code}: {reply.read()[:200]!r}"])
        if cut:  # the first bytes, then the connection closes (the response is left unread)
            next(reply.iter_raw(), b"")
            return Outcome(cut=1)
        body = reply.read()
        got = hashlib.sha256(reply.content).hexdigest()
    if got != sha256:
        return Outcome(wrong=[f"{len(body)} bytes with sha256 {got}, expected {sha256}"])
    return Outcome(completed=1)


def crowd(user: User, export: dict[str, Any], *, clients: int) -> Outcome:
    """One round: `clients` downloads at once, every other one cut off, half of each kind asking
    for the stored gzip bytes and half for the bytes decoded on the way."""
    url = f"{user.system.url}/api/v1/exports/{export['id']}/content"
    auth = {"Authorization": f"Bearer {user.token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    outcome = Outcome()
    with (
        httpx.Client(headers=auth, limits=limits, timeout=60) as client,
        ThreadPoolExecutor(clients) as pool,
    ):
        futures = [
            pool.submit(_download, client, url, export["sha256"], cut=i % 2 == 0, gzip=i % 4 < 2)
            for i in range(clients)
        ]
        for future in futures:
            outcome.add(future.result())
    return outcome


def exports_log(system: System) -> str:
    """What the exports process has logged so far."""
    directory = system.stack.log_dir
    assert directory is not None
    return (directory / "exports.log").read_text(errors="replace")


def forbidden_lines(log: str) -> list[str]:
    return [line[:400] for line in log.splitlines() if any(word in line for word in FORBIDDEN_LOG)]
