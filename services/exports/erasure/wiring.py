"""The erasure room's part of the exports service's wiring: its servicer and its worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from depot.exports.v1 import erasure_pb2, erasure_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.database import Database
from services.common.grpc_server import Registration
from services.common.settings import Settings
from services.exports.blobstores import BlobStore
from services.exports.erasure.handlers import ErasureHandlers
from services.exports.erasure.owned import ExportsPart
from services.exports.erasure.remote import remote_parts
from services.exports.erasure.repository import ErasuresRepository
from services.exports.erasure.service import ErasureUseCases
from services.exports.erasure.worker import ErasureWorker, Part

FULL_NAME = erasure_pb2.DESCRIPTOR.services_by_name["ErasureService"].full_name


def build_erasures(
    settings: Settings, database: Database, blobs: BlobStore, tokens: ServiceTokens
) -> tuple[Registration, Callable[[], Awaitable[None]]]:
    """ErasureService, and what stops its worker and closes its channels."""
    remote = remote_parts(settings, tokens)
    # Prompts, then files, then this service's own rows and bytes last: an export rendered from
    # data the earlier steps were deleting meanwhile goes too.
    parts: list[Part] = [*remote, ExportsPart(database=database, blobs=blobs)]
    unit_of_work = database.units_of_work(ErasuresRepository)
    worker = ErasureWorker(
        unit_of_work=unit_of_work,
        parts=parts,
        lease_seconds=settings.export_job_lease_seconds,
        poll_seconds=settings.export_job_poll_seconds,
        retry_seconds=settings.export_job_poll_seconds,
    )
    if settings.export_job_worker:  # an API-only replica leaves erasures to the others
        worker.start()
    use_cases = ErasureUseCases(unit_of_work=unit_of_work, parts=parts, worker=worker)
    registration = Registration(
        erasure_pb2_grpc.add_ErasureServiceServicer_to_server, ErasureHandlers(use_cases), FULL_NAME
    )

    async def close() -> None:
        await worker.stop()
        for part in remote:
            await part.close()

    return registration, close
