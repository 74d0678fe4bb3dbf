"""Starts every Depot service and the gateway as separate processes, and stops them by PID.

`depot up` runs this over the embedded PostgreSQL; the end-to-end tests run the same stack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import services
from services.common.settings import SERVICE_NAMES


def available_services() -> list[str]:
    """The services whose code exists in this checkout, in start order."""
    root = Path(services.__file__).parent
    return [name for name in SERVICE_NAMES if (root / name / "server.py").exists()]


@dataclass
class Stack:
    """The processes of one running system; `env` holds every DEPOT_* setting they share."""

    env: dict[str, str]
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launches: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # key → service, env

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('DEPOT_HTTP_PORT', '8080')}"

    def grpc_address(self, service: str) -> str:
        defaults = {"prompts": "50051", "files": "50052", "exports": "50053"}
        return f"127.0.0.1:{self.env.get(f'DEPOT_{service.upper()}_PORT', defaults[service])}"

    def start(self, *, timeout: float = 60.0) -> None:
        """Starts the services, waits for their gRPC health, then the gateway and its /readyz."""
        deadline = time.monotonic() + timeout
        for name in available_services():
            self.start_process(name)
            self.wait_serving(name, deadline=deadline)
        self.start_process("gateway")
        self.wait_ready(deadline=deadline)

    def start_process(self, name: str, *, key: str | None = None, env: dict[str, str] | None = None) -> None:
        """Starts `depot serve name`; `key` names a further process of the same service (a replica),
        `env` holds the settings in which it differs (its port)."""
        key = key or name
        self.launches[key] = (name, env or {})
        output = subprocess.DEVNULL if self.log_dir is None else open(self.log_dir / f"{key}.log", "ab")  # noqa: SIM115
        self.processes[key] = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", name],
            env={**self.env, **(env or {})},
            stdout=output,
            stderr=output if self.log_dir is not None else None,
            start_new_session=True,  # Ctrl-C in a terminal reaches `depot up` only; it stops children in order
        )

    def restart_process(self, key: str) -> None:
        """Starts again, as it was started, a process that has exited."""
        name, env = self.launches[key]
        self.start_process(name, key=key, env=env)

    def wait_serving(self, name: str, *, deadline: float, address: str | None = None) -> None:
        with grpc.insecure_channel(address or self.grpc_address(name)) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self._check_alive(name)
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not report SERVING in time")
                time.sleep(0.05)

    def wait_ready(self, *, deadline: float) -> dict[str, object]:
        while True:
            self._check_alive("gateway")
            try:
                with urllib.request.urlopen(f"{self.http_url}/readyz", timeout=1) as reply:
                    return json.loads(reply.read())  # type: ignore[no-any-return]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not become ready in time")
            time.sleep(0.05)

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} while starting")

    def exited(self) -> list[str]:
        """Names of processes that have stopped on their own."""
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop_process(self, name: str, *, timeout: float = 30.0) -> int | None:
        """SIGTERM (drain), then SIGKILL if it does not exit in time; returns the exit code."""
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop(self) -> None:
        """Gateway first, so no new work reaches the services while they drain."""
        for name in ["gateway", *reversed(list(self.processes))]:
            self.stop_process(name)


def stack_environment(base: dict[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The environment of the child processes: the caller's, plus DEPOT_* settings, plus this checkout on the path."""
    env = dict(os.environ if base is None else base)
    env.update(settings)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env
