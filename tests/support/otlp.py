"""A real OTLP/gRPC trace receiver (the TraceService of an OpenTelemetry collector) on 127.0.0.1,
which keeps every span it is sent: what the tracing tests and the tracing benchmark export to."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver got it, with the service.name of the process that sent it."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    links: tuple[tuple[str, str], ...]
    attributes: dict[str, Any]


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """The TraceService's Export: keeps every span (or only counts them, `keep=False`)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.count = 0
        self.endpoint = ""
        self._keep = keep
        self._lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:
        received = [span for spans in request.resource_spans for span in _spans(spans)] if self._keep else []
        count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with self._lock:
            self.spans.extend(received)
            self.count += count
        return trace_service_pb2.ExportTraceServiceResponse()

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)


def _spans(resource_spans: Any) -> Iterator[ReceivedSpan]:
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    for scope_spans in resource_spans.scope_spans:
        for span in scope_spans.spans:
            yield ReceivedSpan(
                service=resource.get("service.name", ""),
                name=span.name,
                kind=span.kind,
                trace_id=span.trace_id.hex(),
                span_id=span.span_id.hex(),
                parent_span_id=span.parent_span_id.hex(),
                links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                attributes={a.key: _value(a.value) for a in span.attributes},
            )


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextmanager
def otlp_receiver(*, keep: bool = True) -> Iterator[Receiver]:
    """A started receiver; its `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    receiver = Receiver(keep=keep)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(0)
