"""What a valid schedule is, and the export request of each of its runs. No I/O.

A schedule takes what an export takes (source, format, options, checked by the exports rules, so
`all_users` needs an admin here too), a cadence (cadence.py), a mode and a destination. Incremental
runs hold only the rows changed within their window, which only datasets whose rows carry a change
time can do (the prompts service's DatasetWindowsService).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from services.common.errors import InvalidArgument, echo
from services.common.limits import MAX_DESTINATION_SECRET_CHARS, MAX_ENDPOINT_URL_CHARS
from services.exports.rules import ExportRequest, export_request
from services.exports.schedules.cadence import cron_of

MODES = ("full", "incremental")
INCREMENTAL_DATASETS = ("multi-agent", "temporal", "feedback")
BLOBSTORE, S3 = "blobstore", "s3"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9._-][A-Za-z0-9._/-]{0,199}")
# The run's window travels in its options: part of its cache key (every window its own export) and
# what the render reads the changed rows by (services/exports/rules.changed_window).
WINDOW_OPTIONS = ("window_start", "window_end", "incremental")


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule: what each run exports, when, which rows and where to."""

    request: ExportRequest
    every: str
    cron: str
    mode: str
    destination: dict[str, str]  # no secret in it
    secrets: dict[str, str] | None  # what is stored sealed


def schedule_spec(
    *,
    source: str,
    fmt: str,
    options: dict[str, Any],
    every: str,
    mode: str,
    destination: dict[str, str] | None,
    is_admin: bool,
    user_id: str,
    min_interval_seconds: float,
    now: datetime,
) -> ScheduleSpec:
    """Checks a new schedule; InvalidArgument (or PermissionDenied for all_users) naming the field."""
    if any(name in options for name in WINDOW_OPTIONS):
        raise InvalidArgument("options.window_* belong to a schedule's runs, not to it", field="options")
    request = export_request(source=source, fmt=fmt, options=options, is_admin=is_admin, user_id=user_id)
    if mode not in MODES:
        raise InvalidArgument(f"mode must be full or incremental, got {echo(mode)}", field="mode")
    if mode == "incremental" and not (
        request.source.kind == "datasets" and request.source.name in INCREMENTAL_DATASETS
    ):
        raise InvalidArgument(
            "incremental mode needs a dataset whose rows carry a change time: "
            + ", ".join(f"datasets/{name}" for name in INCREMENTAL_DATASETS)
            + f"; got {request.source}",
            field="mode",
        )
    cron = cron_of(every, min_interval_seconds=min_interval_seconds, now=now)
    public, secrets = check_destination(destination or {})
    return ScheduleSpec(request, every.strip(), cron, mode, public, secrets)


def check_destination(destination: dict[str, str]) -> tuple[dict[str, str], dict[str, str] | None]:
    """(what is stored in the clear, the credentials to seal) of a destination."""
    kind = destination.get("type") or BLOBSTORE
    if kind == BLOBSTORE:
        extra = sorted(name for name, value in destination.items() if value and name != "type")
        if extra:
            raise InvalidArgument(
                f"destination of type blobstore takes no {', '.join(extra)}", field="destination"
            )
        return {"type": BLOBSTORE}, None
    if kind != S3:
        raise InvalidArgument(
            f"destination.type must be blobstore or s3, got {echo(kind)}", field="destination"
        )
    bucket = destination.get("bucket", "")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidArgument(
            f"destination.bucket must be an S3 bucket name (3-63 of a-z 0-9 . -), got {echo(bucket)}",
            field="destination",
        )
    endpoint = destination.get("endpoint_url", "")
    if endpoint:
        _check_endpoint(endpoint)
    prefix = destination.get("prefix", "").lstrip("/")
    if prefix:
        if not _PREFIX.fullmatch(prefix) or any(part in (".", "..") for part in prefix.split("/")):
            raise InvalidArgument(
                f"destination.prefix must be at most 200 of A-Z a-z 0-9 . _ - /, got {echo(prefix)}",
                field="destination",
            )
        prefix = prefix if prefix.endswith("/") else prefix + "/"
    secrets = {k: destination.get(k, "") for k in ("access_key_id", "secret_access_key")}
    if not all(secrets.values()) or any(len(v) > MAX_DESTINATION_SECRET_CHARS for v in secrets.values()):
        raise InvalidArgument(
            "an s3 destination needs its own access_key_id and secret_access_key (the deployment's "
            "credentials are never lent)",
            field="destination",
        )
    region = destination.get("region", "") or "us-east-1"
    public = {"type": S3, "bucket": bucket, "endpoint_url": endpoint, "region": region, "prefix": prefix}
    return public, secrets


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or len(endpoint) > MAX_ENDPOINT_URL_CHARS
    ):
        raise InvalidArgument(
            f"destination.endpoint_url must be an http(s) URL without credentials, got {echo(endpoint)}",
            field="destination",
        )


def run_request(
    *, request: ExportRequest, mode: str, window_start: datetime, window_end: datetime
) -> ExportRequest:
    """The export of one window: the schedule's request with the window in its options."""
    options = {
        **request.options,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "incremental": mode == "incremental",
    }
    return ExportRequest(request.source, request.format, options)
