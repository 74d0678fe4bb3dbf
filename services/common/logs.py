"""Structured logging: one JSON object per line, with an event name and fields, set up once per process."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace

_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as `{"ts", "level", "logger", "event", ...fields}`."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process = process_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self._process,
            "logger": record.name,
            "event": record.getMessage(),
        }
        # The span active where the record was made (a no-op span, invalid, while tracing is off).
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = trace.format_trace_id(span.trace_id)
            line["span_id"] = trace.format_span_id(span.span_id)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ClientGoneFilter(logging.Filter):
    """gRPC's aio server logs a send that failed because the call is already over — the client
    cancelled a stream mid-way (a download cut off) or its connection went — as an error with a
    traceback from inside gRPC. Nothing of ours failed and the client knows its call ended, so the
    record becomes one warning line naming the method."""

    PREFIX = "ExecuteBatchError raised in core by servicer method "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "rpc_send_after_call_ended",
                (),
                None,
                None,
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.method = message.removeprefix(self.PREFIX).strip("[]")
        return True


def configure_logging(process_name: str, level: str = "info") -> None:
    """Sends every logger's records to stderr as JSON lines; call once at process start."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("grpc._cython.cygrpc").addFilter(ClientGoneFilter())
    # Access logs of uvicorn carry query strings, which may hold a mistakenly passed token.
    logging.getLogger("uvicorn.access").disabled = True
