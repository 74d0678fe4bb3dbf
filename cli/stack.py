"""Starts every Depot service and the gateway as separate processes, and stops them by PID.

`depot up` runs this over the embedded PostgreSQL; the end-to-end tests run the same stack.
"""

from __future__ import annotations

import json
import os
import signal
import socket
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

MAX_REPLICAS = 16


def free_port() -> int:
    """A TCP port nothing on 127.0.0.1 listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available_services() -> list[str]:
    """The services whose code exists in this checkout, in start order."""
    root = Path(services.__file__).parent
    return [name for name in SERVICE_NAMES if (root / name / "server.py").exists()]


@dataclass
class Stack:
    """The processes of one running system; `env` holds every DEPOT_* setting they share.

    With `replicas` > 1 each gRPC service runs that many processes: the first on DEPOT_<S>_PORT
    (key `prompts`), the others on free ports (keys `prompts-2`, …), and every client is pointed at
    all of them (DEPOT_<S>_ADDRESS, a comma-separated list), as a cluster's headless Service does.
    With `metrics` each service process serves /metrics on a port of its own (`metrics_ports`).
    """

    env: dict[str, str]
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launches: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # key → service, env
    replicas: int = 1
    metrics: bool = False
    replica_ports: dict[str, dict[str, int]] = field(default_factory=dict)  # service → key → port
    metrics_ports: dict[str, int] = field(default_factory=dict)  # key → its /metrics port

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('DEPOT_HTTP_PORT', '8080')}"

    def grpc_address(self, service: str) -> str:
        defaults = {"prompts": "50051", "files": "50052", "exports": "50053"}
        return f"127.0.0.1:{self.env.get(f'DEPOT_{service.upper()}_PORT', defaults[service])}"

    def grpc_addresses(self, service: str) -> list[str]:
        """Every replica's address (the first is `grpc_address`)."""
        ports = self.replica_ports.get(service)
        if not ports:
            return [self.grpc_address(service)]
        return [f"127.0.0.1:{port}" for port in ports.values()]

    def plan_replicas(self) -> None:
        """Gives each replica its port, and points clients at all of them (unless told otherwise)."""
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 1 and {MAX_REPLICAS}, not {self.replicas}")
        for name in available_services():
            first = int(self.grpc_address(name).rpartition(":")[2])
            ports = {name: first}
            ports.update({f"{name}-{i}": free_port() for i in range(2, self.replicas + 1)})
            self.replica_ports[name] = ports
            if self.replicas > 1:
                self.env.setdefault(f"DEPOT_{name.upper()}_ADDRESS", ",".join(self.grpc_addresses(name)))

    def replica_env(self, name: str, key: str, port: int) -> dict[str, str]:
        """The settings in which one replica differs from the stack: its port, its metrics port."""
        env = {f"DEPOT_{name.upper()}_PORT": str(port)}
        if self.metrics:
            self.metrics_ports.setdefault(key, free_port())
            env["DEPOT_METRICS_PORT"] = str(self.metrics_ports[key])
        return env

    def start(self, *, timeout: float = 60.0) -> None:
        """Starts the services (each replica), waits for their gRPC health, then the gateway and its /readyz."""
        deadline = time.monotonic() + timeout
        self.plan_replicas()
        for name in available_services():
            for key, port in self.replica_ports[name].items():
                self.start_process(name, key=key, env=self.replica_env(name, key, port))
                self.wait_serving(key, deadline=deadline, address=f"127.0.0.1:{port}")
        self.start_process("gateway")
        self.wait_ready(deadline=deadline)

    def restart_replica(self, key: str, *, timeout: float = 60.0) -> None:
        """A rolling restart's step: SIGTERM (NOT_SERVING, drain), wait for the exit, start it again
        as it was started, and wait for it to report SERVING."""
        name, env = self.launches[key]
        self.stop_process(key)
        self.start_process(name, key=key, env=env)
        self.wait_serving(
            key, deadline=time.monotonic() + timeout, address=f"127.0.0.1:{env[f'DEPOT_{name.upper()}_PORT']}"
        )

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
