"""The system under test: one embedded PostgreSQL and every service as its own process."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
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
from cli.stack import Stack, available_services, stack_environment
from services.common.auth import mint_token
from services.common.migrate import available_services as migrated_schemas
from services.common.migrate import upgrade


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
        """A PostgreSQL on a copy of the run's migrated data directory (see `migrated_template`)."""
        pgdata = directory / "pgdata"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cp -a keeps the owner: as root the server runs as its own user, who must own the copy.
        subprocess.run(["cp", "-a", str(migrated_template(directory)), str(pgdata)], check=True)
        postgres = EmbeddedPostgres(pgdata)
        return cls(postgres, postgres.start())


_TEMPLATE: Path | None = None


def migrated_template(near: Path) -> Path:
    """A data directory initialised and migrated once per test run, then stopped. initdb and every
    schema's migrations cost seconds; each database of a test starts from a copy of it instead."""
    global _TEMPLATE
    if _TEMPLATE is None:
        pgdata = near.parent / f"postgres-template-{uuid.uuid4().hex[:8]}" / "pgdata"
        postgres = EmbeddedPostgres(pgdata)
        url = postgres.start()
        for schema in migrated_schemas():
            upgrade(schema, url)
        postgres.stop()
        # The wheel's record of the processes using the server, and its log, are not data.
        (pgdata / ".handle_pids.json").unlink(missing_ok=True)
        (pgdata / "log").unlink(missing_ok=True)
        _TEMPLATE = pgdata
    return _TEMPLATE


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
            # A stop waits for the calls in flight up to the grace period (event watches end at
            # once), after the drain delay; tests that stop a process under traffic set the periods
            # they need (the fault and rolling restart tests).
            "DEPOT_GRACE_PERIOD_SECONDS": "2",
            "DEPOT_DRAIN_DELAY_SECONDS": "0",
        }
        env = stack_environment(**{**defaults, **settings})
        stack = Stack(env=env, log_dir=directory, replicas=replicas, metrics=metrics)
        try:
            start_at_once(stack)
            yield cls(stack, database, secret)
        finally:
            stop_at_once(stack)

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


def start_at_once(stack: Stack, *, timeout: float = 90.0) -> None:
    """What `Stack.start` does, with every process started at once rather than each after the one
    before is serving (their imports take seconds each), then the gateway's /readyz awaited until
    it reaches every service."""
    deadline = time.monotonic() + timeout
    stack.plan_replicas()
    addresses: dict[str, str] = {}
    for name in available_services():
        for key, port in stack.replica_ports[name].items():
            stack.start_process(name, key=key, env=stack.replica_env(name, key, port))
            addresses[key] = f"127.0.0.1:{port}"
    stack.start_process("gateway")
    for key, address in addresses.items():
        stack.wait_serving(key, deadline=deadline, address=address)
    wait_gateway_reaches_all(stack, deadline=deadline)


def wait_gateway_reaches_all(stack: Stack, *, deadline: float) -> None:
    """Waits for the gateway's /readyz to say "ready": its channels reach every service. A service
    (re)started after the gateway last asked is reached on the channel's next try, within 2 s;
    until then /readyz says "degraded" and that service's routes answer 503."""
    while stack.wait_ready(deadline=deadline).get("status") != "ready":
        assert time.monotonic() < deadline, "the gateway did not reach every service in time"
        time.sleep(0.05)


def stop_at_once(stack: Stack, *, timeout: float = 30.0) -> None:
    """SIGTERM to every process at once, each draining side by side. `Stack.stop` stops the gateway
    first so that no new work reaches a draining service; a test's system is stopped once the
    test is done, when no request is left to send, and the gateway's exit alone takes a second or two."""
    processes = list(stack.processes.items())
    for _, process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for key, process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stack.processes.pop(key, None)


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
