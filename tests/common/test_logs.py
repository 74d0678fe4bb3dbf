"""Log lines: gRPC's noise about a call the client already ended is one warning, not an error."""

from __future__ import annotations

import json
import logging
import sys

from services.common.logs import ClientGoneFilter, JsonFormatter


def _record_from_grpc() -> logging.LogRecord:
    try:
        raise RuntimeError('Failed "execute_batch": (SendMessageOperation,)')
    except RuntimeError:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "grpc._cython.cygrpc",
        logging.ERROR,
        "server.pyx.pxi",
        710,
        "ExecuteBatchError raised in core by servicer method [%s]",
        ("/depot.exports.v1.ExportsService/ReadExportContent",),
        exc_info,
    )


def test_a_send_after_the_client_left_is_one_warning_naming_the_method() -> None:
    record = _record_from_grpc()
    assert ClientGoneFilter().filter(record)
    line = json.loads(JsonFormatter("exports").format(record))
    assert line["level"] == "warning" and line["event"] == "rpc_send_after_call_ended", line
    assert line["method"] == "/depot.exports.v1.ExportsService/ReadExportContent"
    assert "traceback" not in line


def test_other_grpc_errors_keep_their_level_and_traceback() -> None:
    record = logging.LogRecord(
        "grpc._cython.cygrpc", logging.ERROR, "x", 1, "Unexpected [%s]", ("boom",), None
    )
    assert ClientGoneFilter().filter(record)
    assert record.levelno == logging.ERROR and record.getMessage() == "Unexpected [boom]"
