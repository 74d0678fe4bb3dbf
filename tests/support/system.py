"""The system under test: one embedded PostgreSQL and every service as its own process."""

from __future__ import annotations

import secrets
import socket
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
    def running(cls, database: Database, directory: Path, **settings: str) -> Iterator[System]:
        secret = secrets.token_urlsafe(32)
        env = stack_environment(
            DEPOT_DATABASE_URL=database.url,
            DEPOT_JWT_SECRET=secret,
            DEPOT_DATA_DIR=str(directory / "data"),
            DEPOT_HTTP_PORT=str(free_port()),
            DEPOT_PROMPTS_PORT=str(free_port()),
            DEPOT_FILES_PORT=str(free_port()),
            DEPOT_EXPORTS_PORT=str(free_port()),
            DEPOT_GRACE_PERIOD_SECONDS="5",
            **settings,
        )
        stack = Stack(env=env, log_dir=directory)
        try:
            stack.start()
            yield cls(stack, database, secret)
        finally:
            stack.stop()

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
