"""A stopping service ends its event watches instead of waiting its whole grace period for them: a
watch lasts as long as its client, so without that every stop of a service with a watcher (the
exports service's webhook consumers watch every service) took the full grace period."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from tests.support.system import System, wait_gateway_reaches_all

GRACE_SECONDS = 30
TRIALS = 6  # the race it guards against was lost about one stop in three


def test_a_stopping_service_ends_its_watches_with_unavailable_and_stops_well_within_its_grace(
    tmp_path: Path,
) -> None:
    with System.on_own_database(
        tmp_path, DEPOT_GRACE_PERIOD_SECONDS=str(GRACE_SECONDS), DEPOT_DRAIN_DELAY_SECONDS="0"
    ) as system:
        user = system.client()
        prompt = user.create_prompt()
        channel = system.channel("prompts")
        call = events_pb2_grpc.EventsServiceStub(channel).WatchEvents(
            pb.WatchEventsRequest(), metadata=user.metadata, timeout=120
        )
        received: list[pb.Event] = []
        ended: list[grpc.RpcError] = []

        def follow() -> None:
            try:
                for response in call:
                    received.append(response.event)
            except grpc.RpcError as error:
                ended.append(error)

        reader = threading.Thread(target=follow)
        reader.start()
        deadline = time.monotonic() + 30
        while not received:  # the watch is open and has caught up with the create
            assert time.monotonic() < deadline, "the watch saw no event"
            time.sleep(0.05)
        process = system.stack.processes["prompts"]
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=GRACE_SECONDS) == 0
        took = time.monotonic() - stopping
        reader.join(timeout=10)
        channel.close()

        assert took < GRACE_SECONDS / 3, took
        assert received[0].subject == f"prompts/{prompt['id']}"
        [error] = ended
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error
        status = rpc_status.from_call(error)
        assert status is not None
        info = error_details_pb2.ErrorInfo()
        status.details[0].Unpack(info)
        assert info.reason == "SERVER_STOPPING"
        system.stack.processes.pop("prompts")  # stopped here; the system stops the rest

        # The exports service's webhook consumer, which watched prompts too, notes the end as the
        # expected one it is (resumed from its cursor), not as a broken stream.
        deadline = time.monotonic() + 10
        while not (ended_logs := _logged(tmp_path / "exports.log", "webhook_stream_ended")):
            assert time.monotonic() < deadline, "the webhook consumer logged no end of its prompts stream"
            time.sleep(0.1)
        assert [(e["level"], e["source"], e["code"]) for e in ended_logs] == [
            ("info", "prompts", "UNAVAILABLE")
        ]
        assert _logged(tmp_path / "exports.log", "webhook_stream_broken") == []


def test_exports_stops_well_within_its_grace_when_the_services_it_watches_stop_with_it(
    tmp_path: Path,
) -> None:
    """Its webhook consumers follow every service's events, so when they all stop together a
    consumer's stream can end just as exports stops the consumer; the stop once turned into that
    stream's UNAVAILABLE, and the consumer reconnected until exports was killed (one stop in three)."""
    with System.on_own_database(
        tmp_path, DEPOT_GRACE_PERIOD_SECONDS=str(GRACE_SECONDS), DEPOT_DRAIN_DELAY_SECONDS="0"
    ) as system:
        user = system.client()
        stack = system.stack
        for trial in range(TRIALS):
            user.create_prompt()  # an event on the streams the consumers follow
            deadline = time.monotonic() + 30
            while len(_logged(tmp_path / "exports.log", "webhook_consumer_leading")) < 3 * (trial + 1):
                assert time.monotonic() < deadline, "the webhook consumers did not start"
                time.sleep(0.05)
            services = {key: stack.processes[key] for key in ("prompts", "files", "exports")}
            stopping = time.monotonic()
            for process in services.values():
                process.send_signal(signal.SIGTERM)
            assert {
                key: process.wait(timeout=GRACE_SECONDS) for key, process in services.items()
            } == dict.fromkeys(services, 0)
            took = time.monotonic() - stopping
            assert took < GRACE_SECONDS / 3, (trial, took)
            for key in services:
                stack.restart_process(key)
            for key in services:
                stack.wait_serving(key, deadline=time.monotonic() + 30)
            wait_gateway_reaches_all(stack, deadline=time.monotonic() + 30)


def _logged(log: Path, event: str) -> list[dict[str, Any]]:
    """The entries of a service's JSON log with this event name."""
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("event") == event]
