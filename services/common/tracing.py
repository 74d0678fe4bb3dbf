"""OpenTelemetry tracing of every process, configured by the standard OTEL_* environment variables.

Off unless configured: without an exporter (no OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT and no
OTEL_TRACES_EXPORTER=otlp), or with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, no SDK is
imported, no tracer provider is installed and nothing is instrumented: the OpenTelemetry API then
hands out its no-op spans. When on, the maintained instrumentations make the spans (FastAPI in the
gateway, gRPC aio servers and clients, psycopg 3) and carry the W3C `traceparent` over every hop;
blocking gRPC channels (the render threads' reads) send the `traceparent` without a span of their
own (see _ContextToMetadata); threads started or fed by a pool inherit the caller's context.
Spans leave in batches over OTLP/gRPC (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_BSP_*, OTEL_TRACES_SAMPLER).

Process set-up only: code that runs under a trace (the export jobs) uses trace_context, which
imports neither grpc nor the SDK.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
from collections.abc import Mapping
from typing import Any

import grpc
from opentelemetry import propagate, trace

log = logging.getLogger("depot.tracing")

_EXPORTERS = ("otlp", "none")
# Probes and scrapes would fill the trace store with spans nobody reads.
_GATEWAY_EXCLUDED_URLS = "healthz,readyz,metrics"


def tracing_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces (an exporter named or an OTLP endpoint given)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter and exporter not in _EXPORTERS:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={exporter!r}: Depot sends traces over OTLP (otlp) or not at all (none)"
        )
    if exporter:
        return exporter == "otlp"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(process_name: str, *, database: bool) -> bool:
    """Installs the tracer provider and the instrumentations when OTEL_* asks for traces; call once,
    at process start, before any channel, server or connection is made. Returns whether it did.

    `database`: the process talks to PostgreSQL (every service, not the gateway)."""
    if not tracing_wanted():
        return False
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
        filters,
    )
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) win; else each process names itself.
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"depot-{process_name}"}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # Health and reflection calls stay untraced: probes are noise, and the aio server interceptor
    # takes every streaming method for an async generator, which the health service's Watch
    # (written with context.write) is not.
    calls = filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection")))
    GrpcAioInstrumentorServer(filter_=calls).instrument()  # type: ignore[no-untyped-call]
    GrpcAioInstrumentorClient(filter_=calls).instrument()  # type: ignore[no-untyped-call]
    _propagate_blocking_calls()
    ThreadingInstrumentor().instrument()
    if database:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        # Statement text only: parameters are user data (prompt texts, tokens' owners).
        PsycopgInstrumentor().instrument(enable_commenter=False)
    log.info("tracing_on", extra={"service_name": provider.resource.attributes.get(SERVICE_NAME)})
    return True


def _tracing_on() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def instrument_gateway(app: Any) -> None:
    """Traces each request of the gateway's FastAPI app (a no-op unless tracing is configured)."""
    if _tracing_on():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", _GATEWAY_EXCLUDED_URLS)
        # One span per request, not one more per body chunk read or written: the ASGI send and
        # receive spans cost the gateway's CPU and tell nothing the request's span does not.
        FastAPIInstrumentor.instrument_app(app, excluded_urls=excluded, exclude_spans=["receive", "send"])


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """A blocking call's details with the caller's trace context added to its metadata."""


class _ContextToMetadata(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Sends the caller's `traceparent` with each call of a blocking channel and returns gRPC's own
    call object. OpenTelemetry's blocking client interceptor hands a server stream back as a plain
    generator, which has no cancel(): an abandoned stream would run on until its deadline."""

    @staticmethod
    def _with_context(details: Any) -> Any:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if not carrier:
            return details
        metadata = [*(details.metadata or ()), *carrier.items()]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_context(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_context(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_context(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_context(details), requests)


def _propagate_blocking_calls() -> None:
    """Makes every blocking channel made from now on send the caller's trace context, as the
    gRPC instrumentation does for asyncio channels (and for blocking ones, minus cancel())."""
    make_channel = grpc.insecure_channel

    @functools.wraps(make_channel)
    def insecure_channel(*args: Any, **kwargs: Any) -> Any:
        return grpc.intercept_channel(make_channel(*args, **kwargs), _ContextToMetadata())

    grpc.insecure_channel = insecure_channel
