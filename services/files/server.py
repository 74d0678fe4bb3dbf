"""Wiring of the files service: settings, database pool, servicer, and the shared gRPC bootstrap."""

from __future__ import annotations

from depot.files.v1 import files_pb2, files_pb2_grpc
from services.common.database import Database
from services.common.events import EventRelay, EventStream, events_registration
from services.common.events import types as event_types
from services.common.grpc_server import Registration, serve_until_signalled
from services.common.settings import ServiceName, Settings
from services.files import erasure
from services.files.handlers import FilesHandlers
from services.files.retention import FileRetention

NAME: ServiceName = "files"
FULL_NAME = files_pb2.DESCRIPTOR.services_by_name["FilesService"].full_name
# The outbox of schema files (its triggers: migration 0004_events).
EVENTS = EventStream(schema="files", types=event_types.FILES)


def retention_for(settings: Settings, database: Database) -> FileRetention | None:
    """The retention pass of this deployment, or None when files are kept forever."""
    if settings.file_retention_days == 0:
        return None
    return FileRetention(
        database=database,
        days=settings.file_retention_days,
        interval_seconds=settings.file_retention_interval_seconds,
    )


def build(
    settings: Settings, database: Database, retention: FileRetention | None = None
) -> list[Registration]:
    """The servicers to register."""
    handlers = FilesHandlers(
        database,
        max_file_bytes=settings.max_file_bytes,
        quota_bytes=settings.file_quota_bytes,
        retention=retention,
    )
    return [
        Registration(files_pb2_grpc.add_FilesServiceServicer_to_server, handlers, FULL_NAME),
        erasure.registration(database),
    ]


async def serve(settings: Settings) -> None:
    """Runs the files service until SIGTERM, then closes its pool."""
    database = Database(
        settings.database_url_for(NAME),
        pool_size=settings.database_pool_size,
        application_name="depot-files",
    )
    await database.open()
    events = EventRelay.for_settings(database, EVENTS, settings).start()
    retention = retention_for(settings, database)
    if retention is not None:
        retention.start()
    try:
        await serve_until_signalled(
            name=NAME,
            settings=settings,
            registrations=[*build(settings, database, retention), events_registration(events)],
        )
    finally:
        await events.stop()
        if retention is not None:
            await retention.stop()
        await database.close()
