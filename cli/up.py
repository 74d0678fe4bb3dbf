"""`depot up` (what `make run` runs): embedded PostgreSQL, migrations, every service and the gateway."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from pathlib import Path

from cli import development
from cli.postgres import EmbeddedPostgres
from cli.stack import Stack, stack_environment
from cli.supervisor import Supervisor
from services.common.auth import mint_token
from services.common.migrate import available_services as migratable
from services.common.migrate import upgrade
from services.common.settings import DEVELOPMENT_JWT_SECRET


def up(*, replicas: int | None = None) -> None:
    """`replicas`: processes of each gRPC service (else DEPOT_REPLICAS, else 1)."""
    env = stack_environment()
    if replicas is None:
        replicas = _replicas_setting(env.get("DEPOT_REPLICAS", "1"))
    data_dir = Path(env.get("DEPOT_DATA_DIR", ".depot")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["DEPOT_DATA_DIR"] = str(data_dir)
    postgres = None
    if not env.get("DEPOT_DATABASE_URL"):
        postgres = EmbeddedPostgres(data_dir / "postgres")
        env["DEPOT_DATABASE_URL"] = postgres.start()
        print(f"PostgreSQL: embedded, data in {data_dir / 'postgres'}")
    if not env.get("DEPOT_JWT_SECRET"):
        env["DEPOT_JWT_SECRET"] = DEVELOPMENT_JWT_SECRET
        env["DEPOT_EMBEDDED"] = "1"
    # Only this run's processes sign and check service tokens: a fresh key each start, never a known one.
    if not env.get("DEPOT_SERVICE_SECRET"):
        env["DEPOT_SERVICE_SECRET"] = secrets.token_urlsafe(32)
    development.remember(data_dir, env)  # for `depot token` beside the same data directory
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = Stack(env=env, log_dir=None, replicas=replicas)
    try:
        for service in migratable():
            url = env.get(f"DEPOT_{service.upper()}_DATABASE_URL") or env["DEPOT_DATABASE_URL"]
            upgrade(service, url)
        stack.start()
        _greet(stack, env)
        Supervisor(stack).watch(stopping)  # restarts a child that exits; returns on a signal or giving up
    finally:
        print("depot: stopping", file=sys.stderr)
        stack.stop()
        if postgres is not None:
            postgres.stop()
    if not stopping.is_set():
        sys.exit(1)


def _replicas_setting(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        sys.exit(f"depot up: DEPOT_REPLICAS must be a whole number, not {value!r}")


def _greet(stack: Stack, env: dict[str, str]) -> None:
    token = mint_token(
        secret=env["DEPOT_JWT_SECRET"],
        user_id=os.environ.get("USER", "developer") or "developer",
        audience=env.get("DEPOT_JWT_AUDIENCE", "depot"),
    )
    url = stack.http_url
    # With replicas, a service's address is the list of all of them (Stack.plan_replicas).
    grpc = "  ".join(
        f"{name} {env.get(f'DEPOT_{name.upper()}_ADDRESS') or stack.grpc_address(name)}"
        for name in ("prompts", "files", "exports")
    )
    prompts = stack.grpc_address("prompts")
    print(
        f"""
Depot is running: {url}  (API docs: {url}/docs)
Console: {url}/#token={token}  (offers the token below; a fragment never reaches a server)
gRPC: {grpc}  (reflection on: .venv/bin/grpcurl -plaintext {prompts} list)

A development token (24 h); another user's, or an admin's: .venv/bin/depot token --user NAME [--admin]
  export TOKEN={token}

Try:
  curl -s -X POST {url}/api/v1/prompts -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"original_text": "Summarise this report"}}'

Ctrl-C stops everything.""",
        flush=True,
    )
