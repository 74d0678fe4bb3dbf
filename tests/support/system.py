"""The system under test: one embedded PostgreSQL and every service as its own process."""

from __future__ import annotations

import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx

from cli.postgres import EmbeddedPostgres
from cli.stack import Stack, stack_environment
from services.common.auth import mint_token
from services.common.migrate import available_services, upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Database:
    postgres: EmbeddedPostgres
    url: str

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stops PostgreSQL (fast: open transactions roll back), keeps it down for `down_seconds` (the
        fault's length), and starts it again on the same data."""
        self.postgres.stop()
        time.sleep(down_seconds)
        assert self.postgres.start() == self.url

    @classmethod
    def start(cls, directory: Path) -> Database:
        postgres = EmbeddedPostgres(directory / "pgdata")
        url = postgres.start()
        for service in available_services():
            upgrade(service, url)
        return cls(postgres, url)


@dataclass
class System:
    """A running stack with a fresh JWT secret; `user()` hands out unrelated users."""

    stack: Stack
    database: Database
    secret: str

    @classmethod
    @contextmanager
    def running(
        cls,
        database: Database,
        directory: Path,
        *,
        replicas: int = 1,
        metrics: bool = False,
        **settings: str,
    ) -> Iterator[System]:
        """`replicas` processes of each gRPC service, clients pointed at all of them; `metrics`: each
        process serves its /metrics."""
        secret = secrets.token_urlsafe(32)
        defaults = {
            "DEPOT_DATABASE_URL": database.url,
            "DEPOT_JWT_SECRET": secret,
            "DEPOT_SERVICE_SECRET": secrets.token_urlsafe(32),
            "DEPOT_DATA_DIR": str(directory / "data"),
            "DEPOT_HTTP_PORT": str(free_port()),
            "DEPOT_PROMPTS_PORT": str(free_port()),
            "DEPOT_FILES_PORT": str(free_port()),
            "DEPOT_EXPORTS_PORT": str(free_port()),
            "DEPOT_GRACE_PERIOD_SECONDS": "5",
        }
        env = stack_environment(**{**defaults, **settings})
        stack = Stack(env=env, log_dir=directory, replicas=replicas, metrics=metrics)
        try:
            stack.start()
            yield cls(stack, database, secret)
        finally:
            stack.stop()

    @classmethod
    @contextmanager
    def on_own_database(cls, directory: Path, **settings: str) -> Iterator[System]:
        """A system with a PostgreSQL of its own. Systems on one database are replicas of one
        deployment: they share the export job queue, and a worker of one could take a job whose
        token only the other's secret (or issuer) accepts."""
        database = Database.start(directory)
        try:
            with cls.running(database, directory, **settings) as system:
                yield system
        finally:
            database.postgres.stop()

    @property
    def url(self) -> str:
        return self.stack.http_url

    def token(self, user_id: str, *, admin: bool = False, ttl_seconds: int = 3600) -> str:
        return mint_token(secret=self.secret, user_id=user_id, admin=admin, ttl_seconds=ttl_seconds)

    def client(self, user_id: str | None = None, *, admin: bool = False) -> User:
        user_id = user_id or f"user-{uuid.uuid4().hex[:12]}"
        token = self.token(user_id, admin=admin)
        http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return User(user_id, token, http, self)

    def logs(self) -> str:
        """Everything the stack's processes have logged so far."""
        directory = self.stack.log_dir
        assert directory is not None
        return "".join(p.read_text(errors="replace") for p in sorted(directory.glob("*.log")))

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def channel(self, service: str) -> grpc.Channel:
        return grpc.insecure_channel(self.stack.grpc_address(service))

    def start_replica(self, service: str, port: int, *, timeout: float = 60.0) -> str:
        """Starts one more process of `service` on `port`; returns its key in `stack.processes`."""
        key = f"{service}-{port}"
        self.stack.start_process(service, key=key, env={f"DEPOT_{service.upper()}_PORT": str(port)})
        self.stack.wait_serving(key, deadline=time.monotonic() + timeout, address=f"127.0.0.1:{port}")
        return key

    def kill(self, pid: int) -> str:
        """SIGKILLs the stack's process with this PID (a crash: no drain); returns its key."""
        [key] = [key for key, process in self.stack.processes.items() if process.pid == pid]
        process = self.stack.processes.pop(key)
        process.kill()
        process.wait()
        return key


@dataclass
class User:
    """One user of the system: their token, an HTTP client that sends it, and gRPC metadata."""

    id: str
    token: str
    http: httpx.Client
    system: System

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def create_prompt(self, **body: Any) -> dict[str, Any]:
        body.setdefault("original_text", "Write a haiku about databases")
        reply = self.http.post("/api/v1/prompts", json=body)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()  # type: ignore[no-any-return]
