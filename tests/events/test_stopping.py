"""A stopping service ends its event watches instead of waiting its whole grace period for them: a
watch lasts as long as its client, so without that every stop of a service with a watcher (the
exports service's webhook consumers watch every service) took the full grace period."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from tests.support.system import System

GRACE_SECONDS = 30


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
