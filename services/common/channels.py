"""Client channels to Depot services: keepalive, message limits, and retries for idempotent methods only."""

from __future__ import annotations

import json
from collections.abc import Iterable

import grpc

from services.common.grpc_server import KEEPALIVE_OPTIONS


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
    ]


def aio_channel(
    address: str, *, service: str, idempotent_methods: Iterable[str], max_message_bytes: int
) -> grpc.aio.Channel:
    """An asyncio channel to `address` for the full proto service name `service`."""
    options = channel_options(
        service=service, idempotent_methods=idempotent_methods, max_message_bytes=max_message_bytes
    )
    return grpc.aio.insecure_channel(address, options=options)
