"""Bootstrap of a gRPC service: interceptor, health, reflection, limits and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from services.common.auth import MAX_TOKEN_BYTES, TokenVerifier, service_secret
from services.common.channels import KEEPALIVE_OPTIONS
from services.common.interceptors import ServiceInterceptor
from services.common.metrics import RpcMetrics
from services.common.settings import Settings

log = logging.getLogger("depot.server")

# A refused upload is read and dropped up to this many times the file size limit (see interceptors).
REFUSED_UPLOADS_READ = 4


@dataclass(frozen=True)
class Registration:
    """One servicer and how to add it: `add(servicer, server)` and its full proto service name.

    `public_methods` names methods (e.g. `/pkg.Service/Method`) that need no bearer token because
    they carry their own credential, such as a share link; the interceptor's deadlines, error
    mapping and metrics apply to them as to every other method. `end_calls`, when set, ends the
    servicer's open-ended calls (streams that last as long as their client) as the server stops,
    so the grace period is left to calls that finish by themselves.
    """

    add: Callable[[Any, grpc.aio.Server], None]
    servicer: object
    full_name: str
    public_methods: tuple[str, ...] = ()
    end_calls: Callable[[], None] | None = None


def connection_age_options(settings: Settings) -> list[tuple[str, int]]:
    """With a max connection age, a connection ends (GOAWAY) after it, so clients look the service's
    name up again and spread calls over replicas started since; calls running on it finish within
    the age grace before the connection closes. Without one (0, the default) connections last.

    Off unless set, because each such end costs the clients a reconnect, and gRPC 1.85's client
    crashed on one now and then (SIGSEGV in an event-engine thread, adding a health watcher while
    the subchannel's previous one was going away): measured with an age of 0.5 s, the gateway or the
    exports service died within two minutes of tests with client-side health checking on, and in
    eight minutes never with it off. Only a DNS name whose answer changes (a headless Service) needs
    an age; the Kubernetes manifests set one."""
    if settings.grpc_max_connection_age_seconds <= 0:
        return []
    return [
        ("grpc.max_connection_age_ms", int(settings.grpc_max_connection_age_seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", int(settings.grpc_max_connection_age_grace_seconds * 1000)),
    ]


class GrpcServer:
    """A started aio server with the standard health service; stop() drains it."""

    def __init__(self, *, name: str, settings: Settings, registrations: Sequence[Registration]) -> None:
        self._name = name
        self._settings = settings
        limit = settings.max_message_bytes
        self._server = grpc.aio.server(
            interceptors=[
                ServiceInterceptor(
                    # Service tokens are accepted once the service key is set (serve() requires it).
                    TokenVerifier(settings, service_tokens=bool(settings.service_secret)),
                    RpcMetrics.for_service(name),
                    public_methods=frozenset(m for r in registrations for m in r.public_methods),
                    # The largest client stream any service takes is a file upload.
                    refused_stream_bytes=REFUSED_UPLOADS_READ * settings.max_file_bytes,
                )
            ],
            options=[
                ("grpc.max_send_message_length", limit),
                ("grpc.max_receive_message_length", limit),
                # Room for a token up to its limit and the rest of the metadata, so an overlong
                # token reaches the interceptor (UNAUTHENTICATED) instead of gRPC's own refusal.
                ("grpc.max_metadata_size", 2 * MAX_TOKEN_BYTES),
                *KEEPALIVE_OPTIONS,
                *connection_age_options(settings),
            ],
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._names = [r.full_name for r in registrations]
        self._call_enders = [r.end_calls for r in registrations if r.end_calls is not None]
        for registration in registrations:
            registration.add(registration.servicer, self._server)
        reflection.enable_server_reflection(
            [*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Binds, starts and reports SERVING; returns the bound port (useful with port 0)."""
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        await self._server.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("server_started", extra={"service": self._name, "host": host, "port": self.port})
        return self.port

    async def stop(self) -> None:
        """Reports NOT_SERVING first and keeps taking calls for the drain delay, so clients (whose
        round-robin follows each replica's health) move new calls to other replicas before this one
        refuses them; then ends the open-ended calls (event watches) and lets the other in-flight
        calls finish within the grace period."""
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info(
            "server_draining",
            extra={
                "service": self._name,
                "drain_delay_seconds": self._settings.drain_delay_seconds,
                "grace_seconds": self._settings.grace_period_seconds,
            },
        )
        await asyncio.sleep(self._settings.drain_delay_seconds)
        for end_calls in self._call_enders:
            end_calls()
        await self._server.stop(self._settings.grace_period_seconds)
        log.info("server_stopped", extra={"service": self._name})

    async def _set_health(self, status: Any) -> None:
        for name in ["", *self._names]:
            await self._health.set(name, status)


async def serve_until_signalled(
    *,
    name: str,
    settings: Settings,
    registrations: Sequence[Registration],
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Runs a service until SIGTERM or SIGINT, then drains it (what `depot serve <name>` runs)."""
    service_secret(settings)  # refuses to start without the key of service tokens
    server = GrpcServer(name=name, settings=settings, registrations=registrations)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.bind_host)
    await server.start(settings.bind_host, settings.port_for(name))  # type: ignore[arg-type]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()
    if on_stop is not None:
        await on_stop()
