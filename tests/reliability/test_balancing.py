"""Balanced gRPC calls: with two processes of each service, the gateway's (and the exports
service's) round-robin channels spread calls evenly; a replica started while traffic runs takes
calls once clients learn of it. Each replica's share is counted from its own Prometheus counters."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway import upstream
from services.common.channels import grpc_target, service_config
from tests.reliability.conftest import Suite
from tests.support.dns import DnsServer
from tests.support.system import System, User, free_port

CALLS = 600
CONNECTION_AGE_SECONDS = 3.0


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[System]:
    with System.on_own_database(
        tmp_path,
        replicas=2,
        metrics=True,
        DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS=str(CONNECTION_AGE_SECONDS),
        DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="10000",
    ) as system:
        yield system


def handled(system: System, key: str) -> int:
    """Calls of the service's own methods one replica has answered (any status)."""
    service = system.stack.launches[key][0]
    port = system.stack.metrics_ports[key]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    prefix = f"depot_{service}_rpc_requests_total{{"
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(prefix))


def counts(system: System) -> dict[str, dict[str, int]]:
    return {
        service: {key: handled(system, key) for key in ports if key in system.stack.processes}
        for service, ports in system.stack.replica_ports.items()
    }


def mixed_call(user: User, n: int, prompt_id: str) -> int:
    """One of five gateway calls touching every service (an export reads prompts, too)."""
    http = user.http
    kind = n % 5
    if kind == 0:
        reply = http.post("/api/v1/prompts", json={"original_text": f"balanced {n}"})
    elif kind == 1:
        reply = http.get(f"/api/v1/prompts/{prompt_id}")
    elif kind == 2:
        reply = http.put(f"/api/v1/chats/balance/files/f{n}.txt", content=f"file {n}".encode())
    elif kind == 3:
        reply = http.get("/api/v1/chats/balance/files")
    else:
        reply = http.post("/api/v1/exports", json={"source": f"prompts/{prompt_id}", "format": "json"})
    return reply.status_code


def test_600_calls_land_evenly_on_two_replicas_of_each_service(replicated: System, suite: Suite) -> None:
    users = [replicated.client() for _ in range(6)]
    prompts = [user.create_prompt()["id"] for user in users]
    before = counts(replicated)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda n: mixed_call(users[n % 6], n, prompts[n % 6]), range(CALLS)))
    assert all(200 <= s < 300 for s in statuses), sorted(set(statuses))
    after = counts(replicated)
    for service, replicas in after.items():
        calls = {key: n - before[service][key] for key, n in replicas.items()}
        total = sum(calls.values())
        assert total >= CALLS // 5, (service, calls)
        for key, n in calls.items():
            share = n / total
            suite.figure(f"{key}_share", f"{share:.0%}")
            assert 0.40 <= share <= 0.60, (service, calls)
    suite.trials(CALLS)


def metrics_count(host: str, port: int, service: str) -> int:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    prefix = f"depot_{service}_rpc_requests_total{{"
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(prefix))


def test_a_new_replica_found_by_dns_takes_calls_within_the_connection_age(
    tmp_path: Path, suite: Suite
) -> None:
    """As a headless Service does in a cluster: clients reach prompts by a DNS name (a DNS server of
    the test's own) whose answer gains a replica's address while traffic runs. The clients only look
    the name up again when a connection ends, which the servers' max connection age forces."""
    dns = DnsServer()
    port = free_port()
    dns.records["prompts.depot.test"] = ["127.0.0.1"]
    try:
        with System.on_own_database(
            tmp_path,
            DEPOT_PROMPTS_PORT=str(port),
            DEPOT_PROMPTS_ADDRESS=f"dns://127.0.0.1:{dns.port}/prompts.depot.test:{port}",
            DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS=str(CONNECTION_AGE_SECONDS),
        ) as system:
            user = system.client()
            prompt_id = user.create_prompt()["id"]
            stop = threading.Event()
            statuses: list[int] = []

            def traffic() -> None:
                while not stop.is_set():
                    statuses.append(user.http.get(f"/api/v1/prompts/{prompt_id}").status_code)

            metrics = free_port()
            with ThreadPoolExecutor(3) as pool:
                runs = [pool.submit(traffic) for _ in range(3)]
                try:
                    # The new replica listens on another loopback address, on the same port.
                    system.stack.start_process(
                        "prompts",
                        key="prompts-2",
                        env={"DEPOT_BIND_HOST": "127.0.0.2", "DEPOT_METRICS_PORT": str(metrics)},
                    )
                    system.stack.wait_serving(
                        "prompts-2", deadline=time.monotonic() + 60, address=f"127.0.0.2:{port}"
                    )
                    time.sleep(1)
                    assert metrics_count("127.0.0.2", metrics, "prompts") == 0  # not in the DNS answer yet
                    dns.records["prompts.depot.test"] = ["127.0.0.1", "127.0.0.2"]
                    added = time.monotonic()
                    deadline = added + CONNECTION_AGE_SECONDS + 5
                    while metrics_count("127.0.0.2", metrics, "prompts") == 0:
                        assert time.monotonic() < deadline, "the new replica took no call"
                        time.sleep(0.1)
                    suite.figure("dns_replica_first_call_s", f"{time.monotonic() - added:.1f}")
                finally:
                    stop.set()
                    for run in runs:
                        run.result()
            assert statuses and all(s == 200 for s in statuses), sorted(set(statuses))
    finally:
        dns.close()


def test_an_address_list_becomes_one_target_of_every_replica() -> None:
    assert grpc_target("127.0.0.1:50051, 127.0.0.1:50061") == "ipv4:127.0.0.1:50051,127.0.0.1:50061"
    assert grpc_target("[::1]:50051,[::1]:50061") == "ipv6:[::1]:50051,[::1]:50061"
    for as_is in ("127.0.0.1:50051", "dns:///depot-prompts-headless:50051", "ipv4:10.0.0.1:1,10.0.0.2:1"):
        assert grpc_target(as_is) == as_is
    with pytest.raises(ValueError, match="IP literals"):
        grpc_target("prompts-a:50051,prompts-b:50051")
    with pytest.raises(ValueError, match="all IPv4 or all IPv6"):
        grpc_target("127.0.0.1:1,[::1]:2")


def test_only_what_is_safe_to_repeat_is_retried() -> None:
    def retried(service: str, methods: tuple[str, ...]) -> set[str]:
        config = json.loads(service_config(service, methods))
        assert config["loadBalancingConfig"] == [{"round_robin": {}}]
        return {n["method"] for c in config.get("methodConfig", []) for n in c["name"]}

    files = retried("depot.files.v1.FilesService", upstream.FILES_IDEMPOTENT)
    assert not files & {"UploadFile", "ReplaceInFile", "CreateArtifact"} and "DownloadFile" in files
    assert "CreateExport" not in retried("depot.exports.v1.ExportsService", upstream.EXPORTS_IDEMPOTENT)
    # A prompt create is retried only through the channel of requests that carry a request_id.
    assert "CreatePrompt" not in retried("depot.prompts.v1.PromptsService", upstream.PROMPTS_IDEMPOTENT)
    assert upstream.PROMPTS_KEYED == ("CreatePrompt",)
