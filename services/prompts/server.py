"""Wiring of the prompts service: settings, engine, servicer, and the shared gRPC bootstrap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc

from services.common.database import create_engine
from services.common.grpc_server import Registration, serve_until_signalled
from services.common.settings import Settings
from services.prompts.handlers import PromptsHandlers

NAME = "prompts"
FULL_NAME = prompts_pb2.DESCRIPTOR.services_by_name["PromptsService"].full_name


def build(settings: Settings) -> tuple[list[Registration], Callable[[], Awaitable[None]]]:
    """The servicers to register, and what to close once the server has drained."""
    engine = create_engine(
        settings.database_url_for(NAME),
        pool_size=settings.database_pool_size,
        application_name="depot-prompts",
    )
    registration = Registration(
        prompts_pb2_grpc.add_PromptsServiceServicer_to_server, PromptsHandlers(engine), FULL_NAME
    )
    return [registration], engine.dispose


async def serve(settings: Settings) -> None:
    """Runs the prompts service until SIGTERM."""
    registrations, close = build(settings)
    await serve_until_signalled(name=NAME, settings=settings, registrations=registrations, on_stop=close)
