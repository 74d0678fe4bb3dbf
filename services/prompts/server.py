"""Wiring of the prompts service: settings, database pool, servicer, and the shared gRPC bootstrap."""

from __future__ import annotations

from depot.prompts.v1 import dataset_windows_pb2, dataset_windows_pb2_grpc, prompts_pb2, prompts_pb2_grpc
from services.common.database import Database
from services.common.events import EventRelay, EventStream, events_registration
from services.common.events import types as event_types
from services.common.grpc_server import Registration, serve_until_signalled
from services.common.settings import Settings
from services.prompts import erasure
from services.prompts.handlers import PromptsHandlers
from services.prompts.window_handlers import DatasetWindowsHandlers

NAME = "prompts"
FULL_NAME = prompts_pb2.DESCRIPTOR.services_by_name["PromptsService"].full_name
# The outbox of schema prompts (its triggers: migration 0006_events).
EVENTS = EventStream(schema="prompts", types=event_types.PROMPTS)


def registrations(database: Database, settings: Settings) -> list[Registration]:
    """The servicers this service registers."""
    # A prompt read whole (GetPrompt) fits in one message with room to spare: 3 MiB of the default
    # 8 MiB, also under the 4 MiB a gRPC client accepts unless told otherwise.
    handlers = PromptsHandlers(database, max_prompt_bytes=settings.max_message_bytes * 3 // 8)
    return [
        Registration(prompts_pb2_grpc.add_PromptsServiceServicer_to_server, handlers, FULL_NAME),
        erasure.registration(database),
        Registration(
            dataset_windows_pb2_grpc.add_DatasetWindowsServiceServicer_to_server,
            DatasetWindowsHandlers(handlers),
            dataset_windows_pb2.DESCRIPTOR.services_by_name["DatasetWindowsService"].full_name,
        ),
    ]


async def serve(settings: Settings) -> None:
    """Runs the prompts service until SIGTERM, then drains it and closes the pool."""
    database = Database(
        settings.database_url_for(NAME),
        pool_size=settings.database_pool_size,
        application_name="depot-prompts",
    )
    await database.open()
    events = EventRelay.for_settings(database, EVENTS, settings).start()
    try:
        await serve_until_signalled(
            name=NAME,
            settings=settings,
            registrations=[*registrations(database, settings), events_registration(events)],
        )
    finally:
        await events.stop()
        await database.close()
