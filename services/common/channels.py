"""Client channels to Depot services: keepalive, message limits, and retries for idempotent methods only."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import grpc

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
]


def _service_config(service: str, idempotent_methods: Iterable[str]) -> str:
    # Only reads and other idempotent calls are retried, and only when the server was unreachable.
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": service, "method": m} for m in idempotent_methods],
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def channel_options(
    *, service: str, idempotent_methods: Iterable[str], max_message_bytes: int
) -> list[tuple[str, object]]:
    """Options shared by the async and the sync channel factories."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", _service_config(service, idempotent_methods)),
        *KEEPALIVE_OPTIONS,
        *RECONNECT_OPTIONS,
    ]


def aio_channel(
    address: str, *, service: str, idempotent_methods: Iterable[str], max_message_bytes: int
) -> grpc.aio.Channel:
    """An asyncio channel to `address` for the full proto service name `service`."""
    options = channel_options(
        service=service, idempotent_methods=idempotent_methods, max_message_bytes=max_message_bytes
    )
    return grpc.aio.insecure_channel(address, options=options)
