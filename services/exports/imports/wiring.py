"""The imports room's part of the exports service's wiring: its servicer and its worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from depot.exports.v1 import imports_pb2, imports_pb2_grpc
from depot.files.v1 import files_pb2_grpc
from depot.prompts.v1 import prompts_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.channels import sync_channel
from services.common.database import Database
from services.common.grpc_server import Registration
from services.common.settings import Settings
from services.exports.blobstores import BlobStore
from services.exports.imports.handlers import ImportsHandlers
from services.exports.imports.repository import ImportsRepository
from services.exports.imports.restorer import Restorer
from services.exports.imports.service import ImportSettings, ImportsService
from services.exports.jobs.worker import worker_name

FULL_NAME = imports_pb2.DESCRIPTOR.services_by_name["ImportsService"].full_name
# Reads only: a write is never retried by the channel (the restore itself is idempotent and a new
# attempt of the job redoes what is missing).
READS = ("GetPrompt", "ListPrompts", "ListFeedback", "ListSecurityScans")
FILE_READS = ("ListChats", "ListArtifacts", "GetArtifact")


def build_imports(
    settings: Settings, database: Database, blobs: BlobStore, tokens: ServiceTokens
) -> tuple[Registration, Callable[[], Awaitable[None]]]:
    """ImportsService, and what stops its worker and closes its channels."""
    limit = settings.max_message_bytes
    prompts = sync_channel(
        settings.address_for("prompts"),
        service="depot.prompts.v1.PromptsService",
        idempotent_methods=READS,
        max_message_bytes=limit,
    )
    files = sync_channel(
        settings.address_for("files"),
        service="depot.files.v1.FilesService",
        idempotent_methods=FILE_READS,
        max_message_bytes=limit,
    )
    prompts_stub = prompts_pb2_grpc.PromptsServiceStub(prompts)
    files_stub = files_pb2_grpc.FilesServiceStub(files)

    def restorer_for(owner: str) -> Restorer:
        def metadata() -> tuple[tuple[str, str], ...]:
            return (("authorization", f"Bearer {tokens.mint(user_id=owner, admin=False)}"),)

        return Restorer(
            prompts=prompts_stub,
            files=files_stub,
            metadata=metadata,
            timeout=settings.export_render_timeout_seconds,
        )

    service = ImportsService(
        unit_of_work=database.units_of_work(ImportsRepository),
        blobs=blobs,
        restorer_for=restorer_for,
        settings=ImportSettings(
            max_bytes=settings.import_max_bytes,
            max_expanded_bytes=settings.import_max_expanded_bytes,
            lease_seconds=settings.export_job_lease_seconds,
            max_attempts=settings.export_job_max_attempts,
            poll_seconds=settings.export_job_poll_seconds,
        ),
        worker_name=worker_name(),
    )
    if settings.export_job_worker:  # an API-only replica leaves imports to the others
        service.start()
    registration = Registration(
        imports_pb2_grpc.add_ImportsServiceServicer_to_server, ImportsHandlers(service), FULL_NAME
    )

    async def close() -> None:
        await service.drain(settings.grace_period_seconds)
        prompts.close()
        files.close()

    return registration, close
