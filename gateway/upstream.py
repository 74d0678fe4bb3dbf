"""The gateway's gRPC clients: one channel per service, the caller's token and a deadline on every call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from depot.exports.v1 import exports_pb2_grpc
from depot.files.v1 import files_pb2_grpc
from depot.prompts.v1 import prompts_pb2_grpc
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
# Retried only when the request carries its idempotency key (request_id).
PROMPTS_KEYED = ("CreatePrompt",)
EXPORTS_IDEMPOTENT = ("GetExport", "ListExports", "DeleteExport", "ReadExportContent", "ReadSharedContent")
# Not UploadFile, ReplaceInFile or CreateArtifact: a retry could apply them twice.
FILES_IDEMPOTENT = (
    "GetFile",
    "ListFiles",
    "DownloadFile",
    "UpdateFile",
    "DeleteFile",
    "DeleteChat",
    "GetChatRevision",
    "StreamChatFiles",
    "GetArtifact",
    "ListArtifacts",
    "ListChats",
)
# Downloads: stream windows of 256 KiB instead of BDP-grown ones, so a slow HTTP client makes the
# gateway hold a couple of the files service's 128 KiB messages, not megabytes (measured: ~5 MiB
# per slow stream with BDP; with these windows and messages, 20 slow readers cost under 1 MiB each).
FILES_FLOW_CONTROL: list[tuple[str, object]] = [
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", 256 * 1024),
]

S = TypeVar("S")


@dataclass
class Upstream:
    """Channels and stubs of the services the gateway fronts."""

    channels: dict[str, grpc.aio.Channel]
    prompts: prompts_pb2_grpc.PromptsServiceStub
    timeout: float
    exports: exports_pb2_grpc.ExportsServiceStub
    export_timeout: float  # rendering and downloading an export may take longer than a plain call
    files: files_pb2_grpc.FilesServiceStub
    # Methods that may be retried when the request carries a request_id: the method's id → the
    # same method on a channel whose retry policy includes it.
    keyed: dict[int, Any] = field(default_factory=dict)
    extra_channels: list[grpc.aio.Channel] = field(default_factory=list)
    _stubs: dict[Any, Any] = field(default_factory=dict)

    def stub(self, stub_type: Callable[[grpc.aio.Channel], S], service: str = "exports") -> S:
        """A stub of another gRPC service served on `service`'s channel (the exports process serves
        webhooks, schedules, erasures and imports beside ExportsService); made once."""
        key = (stub_type, service)
        if key not in self._stubs:
            self._stubs[key] = stub_type(self.channels[service])
        return self._stubs[key]  # type: ignore[no-any-return]

    @classmethod
    def connect(cls, settings: Settings) -> Upstream:
        limit = settings.max_message_bytes
        prompts = aio_channel(
            settings.address_for("prompts"),
            service="depot.prompts.v1.PromptsService",
            idempotent_methods=PROMPTS_IDEMPOTENT,
            max_message_bytes=limit,
        )
        exports = aio_channel(
            settings.address_for("exports"),
            service="depot.exports.v1.ExportsService",
            idempotent_methods=EXPORTS_IDEMPOTENT,
            max_message_bytes=limit,
        )
        files = aio_channel(
            settings.address_for("files"),
            service="depot.files.v1.FilesService",
            idempotent_methods=FILES_IDEMPOTENT,
            max_message_bytes=limit,
            extra_options=FILES_FLOW_CONTROL,
        )
        # A create carrying a request_id is idempotent (the same body again returns the stored
        # prompt), so it goes through a channel that retries it; without one it is never retried.
        prompts_keyed = aio_channel(
            settings.address_for("prompts"),
            service="depot.prompts.v1.PromptsService",
            idempotent_methods=(*PROMPTS_IDEMPOTENT, *PROMPTS_KEYED),
            max_message_bytes=limit,
        )
        prompts_stub = prompts_pb2_grpc.PromptsServiceStub(prompts)
        keyed_stub = prompts_pb2_grpc.PromptsServiceStub(prompts_keyed)
        return cls(
            channels={"prompts": prompts, "exports": exports, "files": files},
            prompts=prompts_stub,
            timeout=settings.rpc_timeout_seconds,
            exports=exports_pb2_grpc.ExportsServiceStub(exports),
            export_timeout=settings.export_render_timeout_seconds,
            files=files_pb2_grpc.FilesServiceStub(files),
            keyed={id(getattr(prompts_stub, m)): getattr(keyed_stub, m) for m in PROMPTS_KEYED},
            extra_channels=[prompts_keyed],
        )

    def metadata(self, token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    async def call(self, method: Any, request: Any, token: str, *, timeout: float | None = None) -> Any:
        """A unary call carrying the caller's token and a deadline; errors surface as AioRpcError."""
        if getattr(request, "request_id", "") and id(method) in self.keyed:
            method = self.keyed[id(method)]
        return await method(request, metadata=self.metadata(token), timeout=timeout or self.timeout)

    def stream(self, method: Any, request: Any, token: str | None, *, timeout: float | None = None) -> Any:
        """A server-streaming call with the caller's token (none for share links) and a deadline."""
        metadata = self.metadata(token) if token else ()
        return method(request, metadata=metadata, timeout=timeout or self.export_timeout)

    async def health(self, name: str, *, timeout: float = 2.0) -> bool:
        """Whether a service reports SERVING through the standard health service."""
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        for channel in [*self.channels.values(), *self.extra_channels]:
            await channel.close()
