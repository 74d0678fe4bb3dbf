"""What a valid export request is: sources, formats, options and their defaults. No I/O.

A request is normalised before anything else happens (options filled with their defaults, ids
in canonical form), so that two requests for the same rendering share one cache key.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.errors import InvalidArgument, PermissionDenied, ResourceExhausted, echo
from services.common.json_values import check_json_value
from services.common.limits import MAX_SOURCE_CHARS, SHARE_LINK_DEFAULT_SECONDS, SHARE_LINK_MAX_SECONDS

SOURCE_KINDS = ("prompts", "datasets", "artifacts", "chats", "account")
DATASETS = ("multi-agent", "temporal", "feedback", "effectiveness")
FINE_TUNE = "fine-tune"  # training rows chosen by its options (DESIGN.md, Data for pipelines)
DATASET_NAMES = (*DATASETS, "all", FINE_TUNE)
TABLE_FORMATS = ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx")
DATA_FORMATS = ("jsonl", "parquet")  # for pipelines: datasets only, one file per table
FINE_TUNE_FORMATS = ("jsonl",)
FINE_TUNE_SHAPES = ("chat", "preference")
FINE_TUNE_MAX_TOTAL = 50  # the most a version's total (five criteria of 0 to 10) can be
FINE_TUNE_MAX_AGENTS = 50
CHAT_FORMATS = ("zip",)
ACCOUNT = "account"  # the takeout: everything of the caller, as one zip
CSV_MODES = ("safe", "raw")
SOURCE_SHAPES = (
    "prompts/{id}, datasets/{" + "|".join(DATASET_NAMES) + "}, artifacts/{id}, chats/{id}, account"
)

# Which options each source kind takes, with their defaults.
OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "prompts": {"include_workflow": True, "csv_mode": "safe"},
    "datasets": {"all_users": False, "csv_mode": "safe"},
    "artifacts": {"csv_mode": "safe"},
    "chats": {},
    "account": {},
    f"datasets/{FINE_TUNE}": {
        "all_users": False,
        "min_total": 0,
        "preferred_only": False,
        "best_only": False,
        "agents": [],
        "shape": "chat",
    },
}

RATE_WINDOW_SECONDS = 60
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 60.0  # a processing export whose heartbeat is older was abandoned


@dataclass(frozen=True)
class OutputType:
    """How a rendering is served: its media type and the file extension of a download."""

    media_type: str
    extension: str


OUTPUT_TYPES: dict[str, OutputType] = {
    "json": OutputType("application/json", "json"),
    "yaml": OutputType("application/yaml", "yaml"),
    "markdown": OutputType("text/markdown; charset=utf-8", "md"),
    "text": OutputType("text/plain; charset=utf-8", "txt"),
    "csv": OutputType("text/csv; charset=utf-8", "csv"),
    "xlsx": OutputType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": OutputType("application/pdf", "pdf"),
    "docx": OutputType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "zip": OutputType("application/zip", "zip"),
    "jsonl": OutputType("application/jsonl", "jsonl"),
    "parquet": OutputType("application/vnd.apache.parquet", "parquet"),
}


def output_type(fmt: str, *, table_count: int = 1) -> OutputType:
    """Media type and extension of a rendering; csv, jsonl or parquet of several tables is a zip
    of one file per table."""
    if fmt in ("csv", *DATA_FORMATS) and table_count > 1:
        return OUTPUT_TYPES["zip"]
    try:
        return OUTPUT_TYPES[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {sorted(OUTPUT_TYPES)}") from None


@dataclass(frozen=True)
class Source:
    """A parsed source: `kind/name`, e.g. prompts/<uuid> or datasets/temporal."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}" if self.name else self.kind


@dataclass(frozen=True)
class ExportRequest:
    """A validated, normalised request: everything the cache key is made of except the revision."""

    source: Source
    format: str
    options: dict[str, Any]

    @property
    def options_hash(self) -> str:
        canonical = json.dumps(self.options, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def csv_mode(self) -> str:
        return str(self.options.get("csv_mode", "safe"))

    @property
    def table_count(self) -> int:
        return len(DATASETS) if str(self.source) == "datasets/all" else 1

    @property
    def media_type(self) -> str:
        return output_type(self.format, table_count=self.table_count).media_type

    @property
    def filename(self) -> str:
        extension = output_type(self.format, table_count=self.table_count).extension
        stem = {"prompts": "prompt", "datasets": "dataset", "artifacts": "artifact", "chats": "chat"}
        if self.source.kind == ACCOUNT:
            return f"takeout.{extension}"
        return f"{stem[self.source.kind]}-{self.source.name}.{extension}"


def parse_source(value: str) -> Source:
    """`kind/name` with a known kind; ids in canonical form so equal sources compare equal."""
    if value.strip() == ACCOUNT:
        return Source(ACCOUNT, "")
    kind, _, name = value.strip().partition("/")
    if kind not in SOURCE_KINDS or kind == ACCOUNT or not name or len(value) > MAX_SOURCE_CHARS:
        raise InvalidArgument(f"source must be one of {SOURCE_SHAPES}, got {value!r}", field="source")
    if kind == "datasets":
        if name not in DATASET_NAMES:
            raise InvalidArgument(
                f"dataset must be one of {', '.join(DATASET_NAMES)}, got {name!r}", field="source"
            )
        return Source(kind, name)
    if "/" in name or not name.isprintable():
        raise InvalidArgument(f"source must be one of {SOURCE_SHAPES}, got {value!r}", field="source")
    try:
        name = str(uuid.UUID(name))
    except ValueError:
        if kind != "chats":  # chat ids are the client's own names; the others are UUIDs
            name = name.strip()
    return Source(kind, name)


def formats_for(kind: str, name: str = "") -> tuple[str, ...]:
    if kind == "datasets":
        return FINE_TUNE_FORMATS if name == FINE_TUNE else (*TABLE_FORMATS, *DATA_FORMATS)
    return CHAT_FORMATS if kind in ("chats", ACCOUNT) else TABLE_FORMATS


def export_request(
    *, source: str, fmt: str, options: dict[str, Any], is_admin: bool, user_id: str = ""
) -> ExportRequest:
    """Validates a request and fills in the default options; all_users, and another user's chat
    (`owner`), need an admin."""
    check_json_value(options, field="options")
    parsed = parse_source(source)
    owner = None
    if parsed.kind == "chats" and "owner" in options:
        options = dict(options)
        owner = chat_owner(options.pop("owner"), user_id=user_id, is_admin=is_admin)
    allowed = formats_for(parsed.kind, parsed.name)
    fmt = fmt.strip().lower()
    if fmt not in allowed:
        sources = str(parsed) if parsed.name == FINE_TUNE else f"{parsed.kind} sources"
        raise InvalidArgument(
            f"format for {sources} must be one of {', '.join(allowed)}, got {fmt!r}",
            field="format",
        )
    if str(parsed) == f"datasets/{FINE_TUNE}":
        normalised = fine_tune_options(options)
    else:
        normalised = normalise_options(parsed.kind, options)
    if normalised.get("all_users") and not is_admin:
        raise PermissionDenied("only an admin may export every user's data (all_users)", field="options")
    if owner is not None:
        normalised["owner"] = owner
    return ExportRequest(parsed, fmt, normalised)


def chat_owner(value: Any, *, user_id: str, is_admin: bool) -> str | None:
    """Whose chat an export reads (chat ids are per user): None for the caller's own, so that it
    shares the cache key of an export without the option; another user's only for an admin."""
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or not value.isprintable():
        raise InvalidArgument(
            "options.owner must be a user id of 1 to 255 printable characters", field="options"
        )
    if value == user_id:
        return None
    if not is_admin:
        raise PermissionDenied(
            "only an admin may export another user's chat (options.owner)", field="options"
        )
    return value


def normalise_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options with their defaults; unknown names and values out of range are InvalidArgument."""
    defaults = OPTION_DEFAULTS[kind]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise InvalidArgument(
            f"unknown option(s) {', '.join(echo(name) for name in unknown[:5])} for {kind} sources; "
            f"allowed: {known}",
            field="options",
        )
    result = dict(defaults)
    for name, value in options.items():
        if name == "csv_mode":
            if value not in CSV_MODES:
                raise InvalidArgument(
                    f"options.csv_mode must be safe or raw, got {echo(value)}", field="options"
                )
        elif not isinstance(value, bool):
            raise InvalidArgument(f"options.{name} must be true or false, got {echo(value)}", field="options")
        result[name] = value
    return result


def fine_tune_options(options: dict[str, Any]) -> dict[str, Any]:
    """The fine-tune dataset's options with their defaults, in canonical form (agents sorted, each
    once; min_total a whole number where it is one) so equal filters share one cache key."""
    # The true/false ones (and unknown names) as every source's; then the three of other types.
    checked = normalise_options(
        f"datasets/{FINE_TUNE}",
        {k: v for k, v in options.items() if k not in ("min_total", "agents", "shape")},
    )
    if "min_total" in options:
        total = options["min_total"]
        if (
            isinstance(total, bool)
            or not isinstance(total, int | float)
            or not 0 <= total <= FINE_TUNE_MAX_TOTAL
        ):
            raise InvalidArgument(
                f"options.min_total must be a number from 0 to {FINE_TUNE_MAX_TOTAL}, got {echo(total)}",
                field="options",
            )
        checked["min_total"] = int(total) if float(total).is_integer() else float(total)
    if "shape" in options:
        if options["shape"] not in FINE_TUNE_SHAPES:
            raise InvalidArgument(
                f"options.shape must be chat or preference, got {echo(options['shape'])}", field="options"
            )
        checked["shape"] = options["shape"]
    if "agents" in options:
        agents = options["agents"]
        if (
            not isinstance(agents, list)
            or len(agents) > FINE_TUNE_MAX_AGENTS
            or not all(isinstance(a, str) and 0 < len(a) <= 255 and a.isprintable() for a in agents)
        ):
            raise InvalidArgument(
                f"options.agents must be a list of at most {FINE_TUNE_MAX_AGENTS} agent names "
                f"(1 to 255 printable characters each), got {echo(agents)}",
                field="options",
            )
        checked["agents"] = sorted(set(agents))
    return checked


def share_link_seconds(requested: int) -> int:
    """0 means one hour; at most seven days; negative is an error."""
    if requested < 0 or requested > SHARE_LINK_MAX_SECONDS:
        raise InvalidArgument(
            f"expires_in must be between 1 and {SHARE_LINK_MAX_SECONDS} seconds, got {requested}",
            field="expires_in",
        )
    return requested or SHARE_LINK_DEFAULT_SECONDS


class RateLimited(ResourceExhausted):
    default_reason = "RATE_LIMITED"

    def __init__(self, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        # The seconds travel as ErrorInfo metadata too, so the gateway's Retry-After says what the
        # message says.
        super().__init__(
            f"at most {limit} new exports a minute; retry in {retry_after} s",
            metadata={"retry_after": str(retry_after)},
        )


def check_render_rate(*, renders: int, oldest: datetime | None, now: datetime, limit: int) -> None:
    """RateLimited when `renders` in the last minute already reach the limit."""
    if renders < limit or oldest is None:
        return
    waited = (now - oldest).total_seconds()
    raise RateLimited(limit, max(1, math.ceil(RATE_WINDOW_SECONDS - waited)))


def is_stale(*, heartbeat: datetime, now: datetime) -> bool:
    """Whether a processing export's renderer has stopped touching it."""
    return (now - heartbeat).total_seconds() > STALE_AFTER_SECONDS


def changed_window(options: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The [since, before) window of an incremental scheduled run (its options carry it, see
    services/exports/schedules/rules.py): only rows changed within it are read. None otherwise."""
    if not options.get("incremental"):
        return None
    return datetime.fromisoformat(options["window_start"]), datetime.fromisoformat(options["window_end"])
