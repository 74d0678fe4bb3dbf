"""The prompts and files services' parts of an erasure: their EraseUser and CountUserData, called
with the exports service's own identity acting for the user being erased (a service token whose
subject is that user, without the admin role)."""

from __future__ import annotations

from typing import Any

import grpc

from depot.files.v1 import erasure_pb2 as files_erasure
from depot.files.v1 import erasure_pb2_grpc as files_erasure_grpc
from depot.prompts.v1 import erasure_pb2 as prompts_erasure
from depot.prompts.v1 import erasure_pb2_grpc as prompts_erasure_grpc
from services.common.auth import ServiceTokens
from services.common.channels import aio_channel, upstream_error
from services.common.settings import Settings

# Both are safe to repeat: a batch deleted twice deletes nothing the second time.
_RETRIED = ("EraseUser", "CountUserData")


class RemotePart:
    """One owning service's part of an erasure, over gRPC."""

    def __init__(
        self,
        *,
        name: str,
        channel: grpc.aio.Channel,
        stub: Any,
        messages: Any,
        tokens: ServiceTokens,
        timeout: float,
    ) -> None:
        self.name = name
        self._channel = channel
        self._stub = stub
        self._pb = messages
        self._tokens = tokens
        self._timeout = timeout

    def _metadata(self, user_id: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._tokens.mint(user_id=user_id, admin=False)}"),)

    async def erase_batch(self, user_id: str) -> int:
        """Deletes a batch of the user's rows in that service; 0 when nothing was left."""
        request = self._pb.EraseUserRequest(user_id=user_id)
        try:
            reply = await self._stub.EraseUser(
                request, metadata=self._metadata(user_id), timeout=self._timeout
            )
        except grpc.RpcError as exc:
            raise upstream_error(exc, self.name) from None
        return 0 if reply.done else int(reply.deleted_rows)

    async def count(self, user_id: str) -> dict[str, int]:
        """The user's data in that service, by kind."""
        request = self._pb.CountUserDataRequest(user_id=user_id)
        try:
            reply = await self._stub.CountUserData(
                request, metadata=self._metadata(user_id), timeout=self._timeout
            )
        except grpc.RpcError as exc:
            raise upstream_error(exc, self.name) from None
        return dict(reply.counts)

    async def close(self) -> None:
        await self._channel.close()


def remote_parts(settings: Settings, tokens: ServiceTokens) -> list[RemotePart]:
    """The prompts and files services' parts, each over a channel of its own."""
    parts = []
    for name, messages, grpc_module, stub_name in (
        ("prompts", prompts_erasure, prompts_erasure_grpc, "PromptsErasureService"),
        ("files", files_erasure, files_erasure_grpc, "FilesErasureService"),
    ):
        channel = aio_channel(
            settings.address_for(name),  # type: ignore[arg-type]
            service=messages.DESCRIPTOR.services_by_name[stub_name].full_name,
            idempotent_methods=_RETRIED,
            max_message_bytes=settings.max_message_bytes,
        )
        stub = getattr(grpc_module, f"{stub_name}Stub")(channel)
        parts.append(
            RemotePart(
                name=name,
                channel=channel,
                stub=stub,
                messages=messages,
                tokens=tokens,
                timeout=settings.rpc_timeout_seconds,
            )
        )
    return parts
