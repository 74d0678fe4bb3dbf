"""The gateway's gRPC clients: one channel per service, the caller's token and a deadline on every call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from depot.prompts.v1 import prompts_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.channels import aio_channel
from services.common.settings import Settings

PROMPTS_IDEMPOTENT = (
    "GetPrompt",
    "ListPrompts",
    "DeletePrompt",
    "SetScores",
    "SubmitFeedback",
    "ListFeedback",
    "GetAgentEffectiveness",
    "ListSecurityScans",
    "GetDatasetRevision",
)


@dataclass
class Upstream:
    """Channels and stubs of the services the gateway fronts."""

    channels: dict[str, grpc.aio.Channel]
    prompts: prompts_pb2_grpc.PromptsServiceStub
    timeout: float

    @classmethod
    def connect(cls, settings: Settings) -> Upstream:
        limit = settings.max_message_bytes
        prompts = aio_channel(
            settings.address_for("prompts"),
            service="depot.prompts.v1.PromptsService",
            idempotent_methods=PROMPTS_IDEMPOTENT,
            max_message_bytes=limit,
        )
        return cls(
            channels={"prompts": prompts},
            prompts=prompts_pb2_grpc.PromptsServiceStub(prompts),
            timeout=settings.rpc_timeout_seconds,
        )

    def metadata(self, token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    async def call(self, method: Any, request: Any, token: str, *, timeout: float | None = None) -> Any:
        """A unary call carrying the caller's token and a deadline; errors surface as AioRpcError."""
        return await method(request, metadata=self.metadata(token), timeout=timeout or self.timeout)

    async def health(self, name: str, *, timeout: float = 2.0) -> bool:
        """Whether a service reports SERVING through the standard health service."""
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
