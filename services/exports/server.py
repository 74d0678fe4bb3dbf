"""Wiring of the exports service: settings, database pool, blob store, sources, renderer, servicer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.database import Database
from services.common.events import EventRelay, EventStream, events_registration
from services.common.events import types as event_types
from services.common.grpc_server import Registration, serve_until_signalled
from services.common.settings import Settings
from services.exports.blobstores import BlobStore, open_blob_store, open_loop_reader
from services.exports.erasure.wiring import build_erasures
from services.exports.handlers import ExportsHandlers
from services.exports.imports.wiring import build_imports
from services.exports.jobs.policy import QueuePolicy
from services.exports.jobs.queue import JobQueue
from services.exports.jobs.signals import JobSignals
from services.exports.jobs.worker import Deliver, JobSettings, JobWorker
from services.exports.lifecycle.downloads import Downloads
from services.exports.lifecycle.history import History
from services.exports.lifecycle.repository import LifecycleRepository
from services.exports.lifecycle.sweeper import Sweeper
from services.exports.rendering.runner import RenderRunner
from services.exports.rendering.sources import Sources
from services.exports.repository import ExportsRepository
from services.exports.schedules.wiring import build as build_schedules
from services.exports.service import ExportsService
from services.exports.webhooks.wiring import build_webhooks

NAME: Final = "exports"
FULL_NAME = exports_pb2.DESCRIPTOR.services_by_name["ExportsService"].full_name
# The outbox of schema exports (its triggers: migration 0005_events).
EVENTS = EventStream(schema="exports", types=event_types.EXPORTS)
# A share link is its own credential: this method needs no bearer token.
SHARED_CONTENT_METHOD = f"/{FULL_NAME}/ReadSharedContent"


def build(settings: Settings, database: Database) -> tuple[list[Registration], Callable[[], Awaitable[None]]]:
    """The servicers to register, and what to close once the server has drained."""
    # Renders of requests and of queued jobs each have their own threads, so a full queue never
    # holds up an interactive export, and each thread may hold a store connection.
    blob_connections = 2 * settings.export_render_workers + 4
    blobs = open_blob_store(settings, pool_size=blob_connections)
    # Downloads read the store on the event loop where it can be, with connections of their own.
    loop_reader = open_loop_reader(settings, pool_size=blob_connections)
    tokens = ServiceTokens(settings, actor=NAME)
    sources = Sources(
        prompts_address=settings.address_for("prompts"),
        files_address=settings.address_for("files"),
        max_message_bytes=settings.max_message_bytes,
        stream_timeout=settings.export_render_timeout_seconds,
        tokens=tokens,
    )
    runner = RenderRunner(sources=sources, blobs=blobs, workers=settings.export_render_workers)
    signals = JobSignals(settings.database_url_for(NAME))
    listening = asyncio.ensure_future(signals.run())
    service = ExportsService(
        unit_of_work=database.units_of_work(ExportsRepository),
        reads=database.reads(ExportsRepository),
        sources=sources,
        renderer=runner,
        blobs=blobs,
        rate_limit_per_minute=settings.export_rate_limit_per_minute,
        default_timeout=settings.export_render_timeout_seconds,
        ttl_seconds=settings.export_ttl,
        queue=QueuePolicy(threshold_rows=settings.export_queue_threshold_rows),
        ended=signals,
        wait_max_seconds=settings.export_wait_max_seconds,
    )
    job_runner = RenderRunner(sources=sources, blobs=blobs, workers=settings.export_render_workers)
    schedules = build_schedules(settings, database, blobs=blobs, plans=settings.export_job_worker)
    worker = _job_worker(
        settings,
        database,
        sources=sources,
        renderer=job_runner,
        blobs=blobs,
        signals=signals,
        deliver=schedules.deliveries.deliver,
    )
    lifecycle = database.units_of_work(LifecycleRepository)
    history = History(unit_of_work=lifecycle, exports=service)
    downloads = Downloads(
        unit_of_work=lifecycle,
        reads=database.reads(LifecycleRepository),
        blobs=blobs,
        loop_reader=loop_reader,
        exports=service,
    )
    sweeper = Sweeper(
        database=database,
        blobs=blobs,
        interval_seconds=settings.export_sweep_interval_seconds,
        grace_seconds=settings.export_sweep_grace_seconds,
    ).start()
    registration = Registration(
        exports_pb2_grpc.add_ExportsServiceServicer_to_server,
        ExportsHandlers(service, history, downloads),
        FULL_NAME,
        public_methods=(SHARED_CONTENT_METHOD,),
    )
    erasures, close_erasures = build_erasures(settings, database, blobs, tokens)
    webhooks, close_webhooks = build_webhooks(settings, database)

    imports, close_imports = build_imports(settings, database, blobs, ServiceTokens(settings, actor=NAME))

    async def close() -> None:
        await asyncio.gather(
            service.drain(settings.grace_period_seconds), worker.drain(settings.grace_period_seconds)
        )
        await close_imports()
        await close_erasures()
        listening.cancel()
        job_runner.close()
        await sweeper.stop()
        await schedules.stop()
        runner.close()
        await sources.close()
        blobs.close()
        if loop_reader is not None:
            await loop_reader.close()
        await close_webhooks()

    return [registration, webhooks, erasures, imports, schedules.registration], close


def _job_worker(
    settings: Settings,
    database: Database,
    *,
    sources: Sources,
    renderer: RenderRunner,
    blobs: BlobStore,
    signals: JobSignals,
    deliver: Deliver,
) -> JobWorker:
    """The started job worker of this process."""
    worker = JobWorker(
        queues=database.units_of_work(JobQueue),
        exports=database.units_of_work(ExportsRepository),
        sources=sources,
        renderer=renderer,
        blobs=blobs,
        wake=signals.queued,
        deliver=deliver,
        settings=JobSettings(
            concurrency=settings.export_render_workers,
            lease_seconds=settings.export_job_lease_seconds,
            max_attempts=settings.export_job_max_attempts,
            poll_seconds=settings.export_job_poll_seconds,
            lookup_timeout=settings.rpc_timeout_seconds,
            ttl_seconds=settings.export_ttl,
        ),
    )
    if settings.export_job_worker:  # an API-only replica leaves the queue to the others
        worker.start()
    return worker


async def serve(settings: Settings) -> None:
    """Runs the exports service until SIGTERM, then drains it and closes its pools."""
    database = Database(
        settings.database_url_for(NAME),
        pool_size=settings.database_pool_size,
        application_name="depot-exports",
    )
    await database.open()
    events = EventRelay.for_settings(database, EVENTS, settings).start()
    try:
        registrations, close = build(settings, database)
        await serve_until_signalled(
            name=NAME,
            settings=settings,
            registrations=[*registrations, events_registration(events)],
            on_stop=close,
        )
    finally:
        await events.stop()
        await database.close()
