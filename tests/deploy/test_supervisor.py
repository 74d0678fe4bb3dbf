"""`depot up` starts again a child that dies, with a growing pause, and gives up only on a child that
keeps dying: SIGKILLed by its PID, the exports service comes back serving and the gateway answers
through it again; Ctrl-C or SIGTERM still stops everything."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.stack import Stack, stack_environment
from cli.supervisor import RestartPolicy, Restarts, Supervisor
from services.common.auth import mint_token
from services.common.settings import DEVELOPMENT_JWT_SECRET
from tests.deploy.processes import SERVICE_PORT_VARIABLES
from tests.support.system import free_port

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120.0


def test_the_pause_doubles_to_its_cap_and_starts_over_once_a_child_has_stayed_up() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=30, stable_seconds=60, max_exits=100, window_seconds=60)
    restarts = Restarts(policy)
    pauses = [restarts.exited(now) for now in range(9)]  # one exit a second
    assert pauses == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    restarts.started(100)
    assert restarts.exited(161) == 0.5, "up for over a minute: the pause starts over"


def test_more_than_five_exits_within_a_minute_give_up_and_fewer_never_do() -> None:
    restarts = Restarts(RestartPolicy())
    assert [restarts.exited(t) is None for t in (0, 1, 2, 3, 4, 5)] == [False] * 5 + [True]
    spread = Restarts(RestartPolicy())
    assert all(spread.exited(t * 13.0) is not None for t in range(50)), "five a minute, forever"


def test_a_child_that_exits_on_every_start_is_restarted_then_given_up_on(tmp_path: Path) -> None:
    # A real process that dies at once each time (an unknown serve target: exit code 2).
    stack = Stack(env=stack_environment(), log_dir=tmp_path)
    stack.start_process("no-such-service", key="doomed")
    policy = RestartPolicy(first_delay=0.05, max_delay=0.1, max_exits=3, window_seconds=60)
    said = io.StringIO()
    try:
        gave_up = not Supervisor(stack, policy, out=said).watch(threading.Event(), tick=0.05)
    finally:
        stack.stop()
    lines = said.getvalue().splitlines()
    assert gave_up
    assert lines == [
        "depot: doomed exited with code 2; restarting it in 0.05 s",
        "depot: doomed exited with code 2; restarting it in 0.1 s",
        "depot: doomed exited with code 2; restarting it in 0.1 s",
        "depot: doomed exited with code 2, 4 times within 60 s; giving up",
    ], said.getvalue()


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child(self, service: str) -> int | None:
        """The PID of the running `depot serve <service>` child, if there is one."""
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):  # one that ended meanwhile
                if child.status() != psutil.STATUS_ZOMBIE and child.cmdline()[-2:] == ["serve", service]:
                    return int(child.pid)
        return None

    def wait_for(self, what: str, check: object) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not callable(check) or not check():
            assert self.process.poll() is None, f"depot up exited {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{what} not within {DEADLINE_SECONDS} s:\n{self.output()}"
            time.sleep(0.1)


@pytest.fixture
def depot_up(tmp_path: Path) -> Iterator[Up]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOT_")}
    env |= {variable: str(free_port()) for variable in SERVICE_PORT_VARIABLES.values()}
    env |= {"DEPOT_DATA_DIR": str(tmp_path / "data"), "DEPOT_GRACE_PERIOD_SECONDS": "2"}
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    up = Up(process, env, log)
    try:
        up.wait_for("Depot is running", lambda: "Depot is running" in up.output())
        yield up
    finally:
        if process.poll() is None:  # the test failed before its own SIGTERM: stop it the same way
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def exports_answer(http: httpx.Client) -> bool:
    """An export rendered and listed through the gateway: the exports service is reachable again."""
    prompt = http.post("/api/v1/prompts", json={"original_text": "Still here after a crash?"})
    assert prompt.status_code in (200, 201), prompt.text
    reply = http.post("/api/v1/exports", json={"source": f"prompts/{prompt.json()['id']}", "format": "json"})
    return reply.status_code in (200, 201) and http.get("/api/v1/exports").status_code == 200


def test_a_killed_service_is_restarted_serving_and_sigterm_still_stops_everything(depot_up: Up) -> None:
    exports_address = f"127.0.0.1:{depot_up.env['DEPOT_EXPORTS_PORT']}"
    token = mint_token(secret=DEVELOPMENT_JWT_SECRET, user_id="supervised")
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{depot_up.env['DEPOT_HTTP_PORT']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    with http:
        assert exports_answer(http)
        killed = depot_up.child("exports")
        assert killed is not None
        children = {c.pid for c in psutil.Process(depot_up.process.pid).children()}
        os.kill(killed, signal.SIGKILL)
        line = "depot: exports exited with code -9 (SIGKILL); restarting it in 0.5 s"
        depot_up.wait_for("the restart line", lambda: line in depot_up.output())
        depot_up.wait_for("a new exports process", lambda: depot_up.child("exports") not in (None, killed))
        depot_up.wait_for("exports SERVING again", lambda: serving(exports_address))
        depot_up.wait_for("the gateway reaching exports again", lambda: exports_answer(http))
        restarted = depot_up.child("exports")
    depot_up.process.send_signal(signal.SIGTERM)
    assert depot_up.process.wait(timeout=90) == 0, depot_up.output()
    for pid in children - {killed} | {restarted}:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, (
            f"child {pid} outlived depot up"
        )
    assert "shutting down" not in depot_up.output()
