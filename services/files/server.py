"""Wiring of the files service: settings, engine, servicer, and the shared gRPC bootstrap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from depot.files.v1 import files_pb2, files_pb2_grpc
from services.common.database import create_engine
from services.common.grpc_server import Registration, serve_until_signalled
from services.common.settings import ServiceName, Settings
from services.files.handlers import FilesHandlers

NAME: ServiceName = "files"
FULL_NAME = files_pb2.DESCRIPTOR.services_by_name["FilesService"].full_name


def build(settings: Settings) -> tuple[list[Registration], Callable[[], Awaitable[None]]]:
    """The servicers to register, and what to close once the server has drained."""
    engine = create_engine(
        settings.database_url_for(NAME),
        pool_size=settings.database_pool_size,
        application_name="depot-files",
    )
    handlers = FilesHandlers(engine, max_file_bytes=settings.max_file_bytes)
    registration = Registration(files_pb2_grpc.add_FilesServiceServicer_to_server, handlers, FULL_NAME)
    return [registration], engine.dispose


async def serve(settings: Settings) -> None:
    """Runs the files service until SIGTERM."""
    registrations, close = build(settings)
    await serve_until_signalled(name=NAME, settings=settings, registrations=registrations, on_stop=close)
