"""The REST gateway: routes, token pass-through, gRPC status → HTTP, health and metrics. No business rules."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel

from gateway import errors
from gateway.head import HeadAsGet
from gateway.idle import IdleTimeout
from gateway.json_bodies import JsonBodies
from gateway.limits import BodyLimit, body_limit
from gateway.responses import Json
from gateway.routes import (
    account,
    console,
    docs,
    export_lifecycle,
    exports,
    files,
    imports,
    labels,
    prompts,
    schedules,
    seed_exports,
    seed_files,
    seed_prompts,
    webhooks,
)
from gateway.upstream import Upstream
from services.common.auth import TokenVerifier
from services.common.settings import Settings

REQUESTS = Counter(
    "depot_gateway_http_requests_total", "HTTP requests, by route and status.", ["route", "status"]
)
LATENCY = Histogram("depot_gateway_http_duration_seconds", "HTTP request latency, by route.", ["route"])

# Routes that stream large bodies and enforce their own limit.
STREAMING_UPLOAD_PREFIXES = ("/api/v1/chats/",)
IMPORT_PATHS = ("/api/v1/imports", "/api/v1/imports/")  # a restore's raw body: the exports service's limit


def streamed_upload(scope: Any) -> bool:
    """A chat file upload: its raw body is the file, streamed, with the files service's own limit."""
    if scope["method"] == "POST" and scope["path"] in IMPORT_PATHS:
        return True
    return scope["method"] == "PUT" and str(scope["path"]).startswith(STREAMING_UPLOAD_PREFIXES)


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstream = Upstream.connect(settings)
        yield
        await app.state.upstream.close()

    app = FastAPI(
        title="Depot",
        version="1.0.0",
        description="Prompts, scores, feedback, chat files and exports. Every /api route needs a bearer token.",
        lifespan=lifespan,
        default_response_class=Json,
        docs_url=None,  # served by routes/docs.py from pinned assets, not a CDN
        redoc_url=None,
        # Traces come from the OpenTelemetry FastAPI instrumentation (services/common/tracing.py)
        # when OTEL_* configures them; FastAPI's own would add a second span to every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    # The gateway checks each token itself before it forwards a request or reads its body (the
    # services check it again); it accepts users' tokens only, never service tokens.
    app.state.verifier = TokenVerifier(settings)
    errors.install(app)
    app.include_router(prompts.router)
    app.include_router(labels.router)
    app.include_router(seed_prompts.router)
    app.include_router(export_lifecycle.router)  # before exports: /exports/stats is no export id
    app.include_router(exports.router)
    app.include_router(exports.links)
    app.include_router(seed_exports.router)
    app.include_router(files.router)
    app.include_router(imports.router)
    app.include_router(account.router)
    app.include_router(seed_files.router)
    app.include_router(webhooks.router)
    app.include_router(schedules.router)
    _health_routes(app)
    app.include_router(docs.router)
    app.include_router(console.router)  # last: only `/` and `/console/...`
    app.add_middleware(JsonBodies, exempt=streamed_upload)  # type: ignore[arg-type]
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]  # around JsonBodies: the body it reads is already bounded
        limit_for=lambda scope: (
            None if streamed_upload(scope) else body_limit(scope, default=settings.max_request_body_bytes)
        ),
    )
    app.add_middleware(IdleTimeout, seconds=settings.http_idle_timeout_seconds)  # type: ignore[arg-type]
    app.add_middleware(RequestMetrics)  # type: ignore[arg-type]
    app.add_middleware(HeadAsGet)  # outermost: every layer inside sees a GET
    return app


class ReadyOut(BaseModel):
    status: Literal["ready", "degraded", "unavailable"]
    services: dict[str, Literal["serving", "unavailable"]]


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the gateway process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], response_model=ReadyOut, responses={503: {"model": ReadyOut}})
    async def readyz(request: Request) -> Response:
        """Readiness: 200 while any service reports SERVING through gRPC health ("ready" when all
        do, "degraded" with the others listed as unavailable: their routes answer 503 meanwhile),
        503 when none does. One backend's outage hits every gateway replica alike, so leaving the
        load balancer for it would only take the other backends' routes down too."""
        upstream: Upstream = request.app.state.upstream
        names = list(upstream.channels)
        results = await asyncio.gather(*(upstream.health(n) for n in names))
        services = {n: ("serving" if ok else "unavailable") for n, ok in zip(names, results, strict=True)}
        status = "ready" if all(results) else "degraded" if any(results) else "unavailable"
        return Json(ReadyOut(status=status, services=services), status_code=200 if any(results) else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts and times every request by its route template (low cardinality), as plain ASGI."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # Each route and status's two series, looked up by their labels once rather than per request.
        self.series: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            series = self.series.get((route, status))
            if series is None:
                series = REQUESTS.labels(route=route, status=str(status)), LATENCY.labels(route=route)
                self.series[route, status] = series
            series[0].inc()
            series[1].observe(time.perf_counter() - started)
