"""Client channels to Depot services: every replica in turn, keepalive, message limits, and retries
of what is safe to repeat only.

A target may name several replicas: `dns:///depot-prompts:50051` (a headless Service in Kubernetes,
every pod's address), or locally a comma-separated list `127.0.0.1:50051,127.0.0.1:50061`, which
becomes gRPC's `ipv4:` target. Calls go round-robin over the addresses whose health service says
SERVING, so a replica that starts draining gets no new call while its running ones finish.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from services.common import errors

# Pings keep idle connections through proxies and notice dead peers; servers allow pings this often.
KEEPALIVE_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]
# A restarted service is found again within a couple of seconds, not after gRPC's default backoff
# (which grows to two minutes while a peer stays down).
RECONNECT_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    # A DNS name is looked up again at most this often (on a connection's end, e.g. a server's
    # max_connection_age), so a scaled-up Deployment's new pods are found within seconds.
    ("grpc.dns_min_time_between_resolutions_ms", 1_000),
]
_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:")
# A call that failed with one of these is repeated (per the method's retry policy) on another replica.
RETRYABLE_CODES = ["UNAVAILABLE"]


def grpc_target(address: str) -> str:
    """The gRPC target of DEPOT_<SERVICE>_ADDRESS: a target with a scheme or one `host:port` as is,
    a comma-separated list of `ip:port` as an `ipv4:`/`ipv6:` target of all of them."""
    address = address.strip()
    if address.startswith(_SCHEMES) or "," not in address:
        return address
    parts = [part.strip() for part in address.split(",") if part.strip()]
    families = set()
    for part in parts:
        host, _, port = part.rpartition(":")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(
                f"{part!r}: a list of addresses takes IP literals (ip:port); for a name use dns:///{part}"
            ) from None
        if not port.isdigit():
            raise ValueError(f"{part!r}: an address of a list is ip:port")
        families.add(f"ipv{ip.version}")
    if len(families) != 1:
        raise ValueError(f"{address!r}: a list of addresses is all IPv4 or all IPv6")
    return f"{families.pop()}:{','.join(parts)}"


def _retry_policy() -> dict[str, Any]:
    return {
        "maxAttempts": 4,
        "initialBackoff": "0.1s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": RETRYABLE_CODES,
    }


def service_config(service: str, retried_methods: Iterable[str]) -> str:
    """Round-robin over healthy replicas; `retried_methods` (and only they) are repeated after
    UNAVAILABLE. gRPC itself repeats any call that never reached a server (transparent retry)."""
    config: dict[str, Any] = {
        "loadBalancingConfig": [{"round_robin": {}}],
        # Client-side health checking: a replica reporting NOT_SERVING (draining) gets no new call.
        "healthCheckConfig": {"serviceName": ""},
    }
    methods = [{"service": service, "method": m} for m in retried_methods]
    if methods:
        config["methodConfig"] = [{"name": methods, "retryPolicy": _retry_policy()}]
    return json.dumps(config)


def channel_options(
    *, service: str, idempotent_methods: Iterable[str], max_message_bytes: int
) -> list[tuple[str, object]]:
    """Options of every channel to `service`, asyncio or blocking."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(service, idempotent_methods)),
        *KEEPALIVE_OPTIONS,
        *RECONNECT_OPTIONS,
    ]


def aio_channel(
    address: str,
    *,
    service: str,
    idempotent_methods: Iterable[str],
    max_message_bytes: int,
    extra_options: Iterable[tuple[str, object]] = (),
) -> grpc.aio.Channel:
    """An asyncio channel to every replica at `address` for the full proto service name `service`."""
    options = channel_options(
        service=service, idempotent_methods=idempotent_methods, max_message_bytes=max_message_bytes
    )
    return grpc.aio.insecure_channel(grpc_target(address), options=[*options, *extra_options])


def sync_channel(
    address: str,
    *,
    service: str,
    idempotent_methods: Iterable[str],
    max_message_bytes: int,
    extra_options: Iterable[tuple[str, object]] = (),
) -> grpc.Channel:
    """A blocking channel like `aio_channel` (for a command-line tool, or reads inside a thread)."""
    options = channel_options(
        service=service, idempotent_methods=idempotent_methods, max_message_bytes=max_message_bytes
    )
    return grpc.insecure_channel(grpc_target(address), options=[*options, *extra_options])


@dataclass(frozen=True)
class ChannelPair:
    """An asyncio and a blocking channel to one service, alike in every option: calls made on the
    event loop use `aio`, reads made inside worker threads (a render pulling a stream) use `sync`."""

    aio: grpc.aio.Channel
    sync: grpc.Channel

    @classmethod
    def to(
        cls,
        address: str,
        *,
        service: str,
        idempotent_methods: Iterable[str],
        max_message_bytes: int,
        sync_options: Iterable[tuple[str, object]] = (),
    ) -> ChannelPair:
        """The pair; `sync_options` are added to the blocking channel's (a render's stream window)."""
        idempotent_methods = tuple(idempotent_methods)  # read twice
        aio = aio_channel(
            address,
            service=service,
            idempotent_methods=idempotent_methods,
            max_message_bytes=max_message_bytes,
        )
        sync = sync_channel(
            address,
            service=service,
            idempotent_methods=idempotent_methods,
            max_message_bytes=max_message_bytes,
            extra_options=sync_options,
        )
        return cls(aio, sync)

    async def close(self) -> None:
        await self.aio.close()
        self.sync.close()


_ERRORS: dict[grpc.StatusCode, type[errors.DepotError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


def upstream_error(exc: grpc.RpcError, service: str) -> errors.DepotError:
    """The error to report for a failed call to another service: its meaning, not a bare INTERNAL."""
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.Unavailable(f"the {service} service did not answer in time", reason="UPSTREAM_TIMEOUT")
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.Unavailable(f"the {service} service is unavailable", reason="UPSTREAM_UNAVAILABLE")
    kind = _ERRORS.get(code)
    if kind is None:
        return errors.DepotError(f"the {service} service failed: {code.name}")
    return kind(exc.details() or code.name)


def error_infos(exc: grpc.RpcError) -> list[dict[str, Any]]:
    """The ErrorInfo details (reason, domain, metadata) a failed call's status carries, in order."""
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            infos = []
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    infos.append(
                        {"reason": info.reason, "domain": info.domain, "metadata": dict(info.metadata)}
                    )
            return infos
    return []
