"""The trace context of deferred work, through the OpenTelemetry API alone (no SDK, no grpc): a
no-op while tracing is off (services/common/tracing.py).

An export job waits in PostgreSQL, so it carries its request's context as a `traceparent` string;
the worker's span starts a trace of its own and links to it (a job is not part of the request's
latency, and may run long after the request's trace has ended).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import context, propagate, trace

_TRACER = "depot"


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the active span, to store with work that runs later; None untraced."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def untraced() -> Iterator[None]:
    """Instrumentations make no span inside (a background loop's polls would each be a trace of
    their own, one every few seconds per process, all saying nothing happened)."""
    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        context.detach(token)


@contextmanager
def linked_span(name: str, *, traceparent: str | None, attributes: Mapping[str, Any]) -> Iterator[Any]:
    """A new trace's root span for deferred work, linked to the trace that asked for it (if any),
    traced even inside untraced()."""
    requested = trace.get_current_span(propagate.extract({"traceparent": traceparent or ""}))
    span_context = requested.get_span_context()
    links = [trace.Link(span_context)] if span_context.is_valid else []
    tracer = trace.get_tracer(_TRACER)
    # A fresh context: no parent, and none of an untraced() poll's silence (the work it found is traced).
    token = context.attach(context.Context())
    try:
        span: AbstractContextManager[Any] = tracer.start_as_current_span(
            name, links=links, attributes=dict(attributes)
        )
        with span as current:
            yield current
    finally:
        context.detach(token)
