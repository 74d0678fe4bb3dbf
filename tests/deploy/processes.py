"""`depot <command>` as a child process, as a container would run it, with a health poll and a SIGTERM stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.system import free_port

SERVICE_PORT_VARIABLES = {
    "prompts": "DEPOT_PROMPTS_PORT",
    "files": "DEPOT_FILES_PORT",
    "exports": "DEPOT_EXPORTS_PORT",
    "gateway": "DEPOT_HTTP_PORT",
}


def free_ports() -> dict[str, str]:
    """A free 127.0.0.1 port for every listener a Depot process may open."""
    ports = {variable: str(free_port()) for variable in SERVICE_PORT_VARIABLES.values()}
    return {**ports, "DEPOT_METRICS_PORT": str(free_port()), "DEPOT_BIND_HOST": "127.0.0.1"}


@dataclass
class Served:
    """A running `depot serve <target>` and the environment it was started with."""

    target: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    @property
    def port(self) -> int:
        return int(self.env[SERVICE_PORT_VARIABLES[self.target]])

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def healthy(self) -> bool:
        """One health check: gRPC health SERVING for a service, 200 from /healthz for the gateway."""
        if self.target == "gateway":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as reply:
                    return bool(reply.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def wait_healthy(self, *, timeout: float = 60.0) -> None:
        """Polls health until it answers, the process dies, or the deadline passes."""
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"`depot serve {self.target}` exited with {self.process.returncode} before answering "
                    f"health; its output:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"`depot serve {self.target}` did not answer health within {timeout:.0f} s; "
                    f"its output:\n{self.output()}"
                )
            time.sleep(0.1)

    def terminate(self, *, timeout: float = 30.0) -> int:
        """SIGTERM by PID, as Kubernetes stops a container; SIGKILL only if it outlives the timeout."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"`depot serve {self.target}` ignored SIGTERM for {timeout:.0f} s; output:\n{self.output()}"
                ) from None
        return self.process.returncode


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[Served]:
    """Starts `depot <args>` (a serve command); stops it on the way out whatever happened."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(args[1], process, env, log)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
