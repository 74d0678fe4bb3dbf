"""Issue 16, tracing: one trace across gateway → exports → prompts → PostgreSQL, exported over OTLP
to a real OTLP/gRPC receiver started here, the trace id in the log lines, a queued job's span
linked to the request that queued it, and no span of a background loop's polls (the job worker's,
the events relay's, an events watcher's reads)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.common.tracing import tracing_wanted
from tests.events.support import subject_is, watch
from tests.exports.conftest import create_session, follow
from tests.support.otlp import ReceivedSpan, Receiver, otlp_receiver
from tests.support.system import System

DEADLINE_SECONDS = 60


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as started:
        yield started


@pytest.fixture(scope="module")
def traced_system(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[System]:
    """A system whose every process sends its spans to the receiver (in batches of 100 ms)."""
    directory = Path(tmp_path_factory.mktemp("traced"))
    with System.on_own_database(
        directory,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as system:
        yield system


def _trace_of(
    receiver: Receiver, predicate: Callable[[ReceivedSpan], bool], *, services: set[str]
) -> list[ReceivedSpan]:
    """The spans of the trace holding a span that satisfies `predicate`, once spans of every one of
    `services` have arrived in it (the processes export on their own schedules)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        spans = receiver.snapshot()
        roots = [s for s in spans if predicate(s)]
        if roots:
            trace_id = roots[0].trace_id
            in_trace = [s for s in spans if s.trace_id == trace_id]
            if services <= {s.service for s in in_trace}:
                return in_trace
        assert time.monotonic() < deadline, (
            f"expected a trace with spans of {sorted(services)}; got "
            f"{sorted({(s.service, s.name) for s in (in_trace if roots else spans)})}"
        )
        time.sleep(0.2)


def test_a_rest_export_is_one_trace_through_gateway_exports_prompts_and_sql(
    traced_system: System, receiver: Receiver
) -> None:
    collected = receiver
    user = traced_system.client()
    session = create_session(user, feedback=False)
    reply = user.http.post("/api/v1/exports", json={"source": f"prompts/{session.id}", "format": "json"})
    assert reply.status_code in (200, 201), reply.text

    def is_the_request(span: ReceivedSpan) -> bool:
        return (
            span.service == "depot-gateway"
            and span.parent_span_id == ""
            and span.attributes.get("http.route") == "/api/v1/exports"
            and span.attributes.get("http.request.method", span.attributes.get("http.method")) == "POST"
        )

    # Spans end in any order, so the trace is complete once its SQL of the prompts service is in too.
    spans = _trace_of(collected, is_the_request, services={"depot-gateway", "depot-exports", "depot-prompts"})
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not any(s.service == "depot-prompts" and s.attributes.get("db.system") for s in spans):
        assert time.monotonic() < deadline, sorted({(s.service, s.name) for s in spans})
        time.sleep(0.2)
        spans = _trace_of(collected, is_the_request, services={"depot-prompts"})
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1, f"expected one root, got {[(s.service, s.name) for s in roots]}"
    orphans = [(s.service, s.name) for s in spans if s.parent_span_id and s.parent_span_id not in by_id]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"
    services = {s.service for s in spans}
    assert {"depot-gateway", "depot-exports", "depot-prompts"} <= services, services
    sql = [s for s in spans if s.attributes.get("db.system") or s.attributes.get("db.system.name")]
    assert {s.service for s in sql} >= {"depot-exports", "depot-prompts"}, [(s.service, s.name) for s in sql]
    # Each hop is a client span in the caller whose child is the callee's server span.
    called = {(by_id[s.parent_span_id].service, s.service) for s in spans if s.parent_span_id}
    assert ("depot-gateway", "depot-exports") in called, called
    assert ("depot-exports", "depot-prompts") in called, called

    trace_id = roots[0].trace_id
    logged = [json.loads(line) for line in traced_system.logs().splitlines() if trace_id in line]
    assert logged, f"no log line carries trace_id {trace_id}"
    assert all(line["trace_id"] == trace_id for line in logged), logged


def test_a_queued_exports_worker_span_links_to_the_request_that_queued_it(
    traced_system: System, receiver: Receiver
) -> None:
    collected = receiver
    user = traced_system.client()
    create_session(user, feedback=False)
    accepted = user.http.post("/api/v1/exports", json={"source": "datasets/temporal", "format": "csv"})
    assert accepted.status_code == 202, accepted.text
    export_id = accepted.json()["id"]
    assert follow(user, accepted)["status"] == "completed"

    def is_the_job(span: ReceivedSpan) -> bool:
        return span.name == "export.job" and span.attributes.get("depot.export_id") == export_id

    # Wait for the prompts spans too: each process exports its spans on its own schedule.
    job_trace = _trace_of(collected, is_the_job, services={"depot-exports", "depot-prompts"})
    [job] = [s for s in job_trace if is_the_job(s)]
    assert job.parent_span_id == "", "the job starts a trace of its own"
    assert len(job.links) == 1, job.links
    linked_trace, linked_span = job.links[0]

    def is_the_linked(span: ReceivedSpan) -> bool:
        return span.trace_id == linked_trace and span.span_id == linked_span

    # The gateway sends its spans of the request on its own schedule, which may come after the job's.
    requesting = _trace_of(collected, is_the_linked, services={"depot-gateway", "depot-exports"})
    assert any(s.span_id == linked_span and s.service == "depot-exports" for s in requesting), (
        f"the link names no span of the exports service in the requesting trace: {requesting}"
    )
    assert any(s.service == "depot-gateway" and not s.parent_span_id for s in requesting), (
        f"the requesting trace starts at the gateway: {sorted((s.service, s.name, s.parent_span_id) for s in requesting)}"
    )
    # The worker's reads of the dataset are calls of its own trace, propagated to prompts.
    assert any(s.service == "depot-prompts" for s in job_trace), sorted(
        {(s.service, s.name) for s in job_trace}
    )


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "depot"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, False),
    ],
)
def test_tracing_is_off_unless_the_otel_variables_ask_for_it(environ: dict[str, str], wanted: bool) -> None:
    assert tracing_wanted(environ) is wanted


def test_an_exporter_other_than_otlp_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        tracing_wanted({"OTEL_TRACES_EXPORTER": "zipkin"})


def _sql_statements(receiver: Receiver, service: str) -> list[str]:
    """The SQL text of every span `service` has sent so far."""
    return [
        str(s.attributes.get("db.statement") or s.attributes.get("db.query.text") or "")
        for s in receiver.snapshot()
        if s.service == service
    ]


def test_the_relay_and_a_watcher_send_no_span_of_their_polls(
    traced_system: System, receiver: Receiver
) -> None:
    user = traced_system.client()
    prompt_id = user.create_prompt()["id"]
    watch(traced_system, user, until=subject_is(f"prompts/{prompt_id}", "prompt.created"))
    time.sleep(3)  # sixty polls of the relay, and the watcher's reads, would each be a span
    statements = _sql_statements(receiver, "depot-prompts")
    assert statements, "the prompts service sent no SQL span at all (the create's)"
    polls = [text for text in statements if "place_events" in text or "prompts.events" in text]
    assert not polls, f"{len(polls)} spans of the relay or the watcher, e.g. {polls[0][:200]}"


def test_an_idle_job_worker_sends_no_trace_of_its_polls(traced_system: System, receiver: Receiver) -> None:
    # The worker looks at the queue every 2 s (a claim: UPDATE … SET lease_owner … SKIP LOCKED);
    # none of the polls made while the module's tests ran, or in these few seconds, is a span.
    time.sleep(5)
    statements = _sql_statements(receiver, "depot-exports")
    assert statements, "the exports service sent no SQL span at all"
    polls = [text for text in statements if "SKIP LOCKED" in text and "lease_owner" in text]
    assert not polls, f"{len(polls)} spans of the worker's polls, e.g. {polls[0][:200]}"
