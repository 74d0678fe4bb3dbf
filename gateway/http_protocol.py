"""uvicorn's httptools protocol with the bounds it lacks against slow and idle clients (slowloris).

uvicorn closes a kept-alive connection that stays idle after a response (`timeout_keep_alive`), and
the IdleTimeout middleware bounds a stalled body or download, but nothing bounds a connection
before its request's headers are complete: a client that connects and sends nothing, or sends a
header line now and then, holds a socket and its buffers for as long as it likes. Here:

- A request's line and headers must be complete within `header_timeout` seconds — of the
  connection being made for the first request, of the request's first byte on a kept-alive
  connection (until that byte, uvicorn's keep-alive timeout applies). A request that ran out of
  time is answered 408 and its connection closed; a connection that sent nothing is just closed.
- After a response, the rest of a request body the app did not read (an early 401 or 413) must
  arrive within `header_timeout` too: it is read and dropped until then, so the client reads its
  answer rather than a reset, but trickling it no longer holds the connection open for good. Once
  such a body is complete, the connection idles for uvicorn's keep-alive time as after any other
  response (uvicorn cancels its keep-alive timer on every byte received and arms it only when a
  response completes, so without this, that connection would idle with no timer at all).
- At most `max_connections` connections at once: one over the cap is answered 503 at once and
  closed, so a flood costs a descriptor for a moment, not until a deadline.

Written against uvicorn 0.54's `HttpToolsProtocol` (its parser callbacks and `connection_made`,
`data_received`, `connection_lost`, `cycle`, `connections`); each override calls the original.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.errors import error_body

# How long a refused connection is still read (and what it sends dropped) after the 503, so that a
# client that sent its request at once reads the answer instead of a reset.
REFUSAL_LINGER_SECONDS = 1.0


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header deadline and a connection cap (see the module's docstring)."""

    header_timeout: float = 10.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._for_headers = False  # the deadline armed is a request's header deadline
        self._in_message = False  # the parser is inside a request (line, headers or body)
        self._awaiting_headers = False  # a request has begun and its headers are not complete
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse()
        else:
            self._arm(self.header_timeout, for_headers=True)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._for_headers and not self._in_message and self._answered():
            # Bytes between requests (even bare CRLFs, which begin no message) start the clock
            # of the next request's headers; uvicorn has just cancelled its keep-alive timer.
            self._arm(self.header_timeout, for_headers=True)
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._in_message = self._awaiting_headers = True
        if not self._for_headers:  # a pipelined request: its clock starts at its first byte
            self._arm(self.header_timeout, for_headers=True)
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_message = False
        super().on_message_complete()
        if self._answered() and not self.transport.is_closing():  # the body outlived its response
            self._arm(self.timeout_keep_alive, for_headers=False)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._in_message and not self.transport.is_closing():  # a body the app did not read
            self._arm(self.header_timeout, for_headers=False)

    def _answered(self) -> bool:
        """No response is under way on this connection."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self, seconds: float, *, for_headers: bool) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)
        self._for_headers = for_headers

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._for_headers = False

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._awaiting_headers and self._answered():  # with a response under way, 408 would corrupt it
            message = f"the request's line and headers did not arrive within {self.header_timeout:g} s"
            self.transport.write(self._error(408, "REQUEST_TIMEOUT", message))
        self.transport.close()

    def _refuse(self) -> None:
        self._refused = True
        message = f"the gateway holds its maximum of {self.max_connections} connections; retry shortly"
        self.transport.write(self._error(503, "UNAVAILABLE", message, retry_after=1))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._deadline = self.loop.call_later(REFUSAL_LINGER_SECONDS, self.transport.close)

    def _error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> bytes:
        """A complete response with the DESIGN.md error body that closes the connection."""
        body = orjson.dumps(error_body(code, message))
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in headers)]
        return b"".join([*lines, b"\r\n", body])


def deadline_protocol(*, header_timeout: float, max_connections: int) -> type[DeadlineHttpToolsProtocol]:
    """The protocol class to hand uvicorn (`http=`), carrying these bounds."""
    return type(
        "DeadlineHttpToolsProtocol",
        (DeadlineHttpToolsProtocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )
