"""What the exports service reports: the `artifact_exported` log event and per-format metrics."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Histogram

log = logging.getLogger("depot.exports")

RENDERS = Counter(
    "depot_exports_renders_total", "Renderings started, by format and outcome.", ["format", "outcome"]
)
CACHE_HITS = Counter(
    "depot_exports_cache_hits_total", "Requests answered with a stored export, by format.", ["format"]
)
RENDERED_BYTES = Counter(
    "depot_exports_rendered_bytes_total", "Bytes rendered and stored, by format.", ["format"]
)
RENDER_SECONDS = Histogram(
    "depot_exports_render_duration_seconds",
    "Time to render and store an export, by format.",
    ["format"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
DOWNLOADED_BYTES = Counter(
    "depot_exports_downloaded_bytes_total", "Export bytes served to clients, by format.", ["format"]
)


def exported(
    *, user: str, export_id: str, source: str, fmt: str, size: int, seconds: float, cache_hit: bool
) -> None:
    """One export request answered: a rendering stored, or a stored one reused."""
    if cache_hit:
        CACHE_HITS.labels(format=fmt).inc()
    else:
        RENDERS.labels(format=fmt, outcome="completed").inc()
        RENDERED_BYTES.labels(format=fmt).inc(size)
        RENDER_SECONDS.labels(format=fmt).observe(seconds)
    log.info(
        "artifact_exported",
        extra={
            "user": user,
            "export_id": export_id,
            "source": source,
            "format": fmt,
            "bytes": size,
            "duration_ms": round(seconds * 1000, 1),
            "cache_hit": cache_hit,
        },
    )


def render_failed(*, user: str, export_id: str, source: str, fmt: str, reason: str) -> None:
    """A rendering that ended without bytes."""
    RENDERS.labels(format=fmt, outcome="failed").inc()
    log.warning(
        "export_failed",
        extra={"user": user, "export_id": export_id, "source": source, "format": fmt, "reason": reason},
    )


def downloaded(
    *, export_id: str, fmt: str, size: int, encoding: str, link: str | None, redirected: bool
) -> None:
    """One download served: by the owner or through a link (named by the start of its id), as bytes
    (`size` of them, in `encoding`) or as a redirect to the store."""
    if not redirected:
        DOWNLOADED_BYTES.labels(format=fmt).inc(size)
    log.info(
        "export_downloaded",
        extra={
            "export_id": export_id,
            "format": fmt,
            "bytes": size,
            "encoding": encoding or "identity",
            "via": "link" if link else "owner",
            "link": link,
            "redirected": redirected,
        },
    )
