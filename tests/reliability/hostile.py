"""The bad-input catalogue: hostile shapes of JSON, ids and headers, and where to put them.

Every operation of /openapi.json gets each shape: ids in its path, raw JSON snippets (which need
not be JSON at all: NaN, 1e400) at every leaf of a minimal valid body and as the whole body, and
hostile headers (control bytes, conditional headers and ranges with garbage). Nothing here
knows a route: bodies are built from the operation's schema.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# Raw JSON text, placed where a value goes.
JSON_VALUES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e400": "1e400",
    "-1e400": "-1e400",
    "2^53 + 1": "9007199254740993",
    "2^63": "9223372036854775808",
    "-2^64": "-18446744073709551616",
    "300 digits": "9" * 300,
    "5,000 digits": "9" * 5_000,
    "40 levels": '{"a":' * 40 + "1" + "}" * 40,
    "900 levels": "[" * 900 + "]" * 900,
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"\\ud800"',
    "C0 and C1 controls": '"\\u0001\\u001f\\u0085\\u2028"',
    "long string": '"' + "x" * 200_000 + '"',
    "long key": '{"' + "k" * 10_000 + '": 1}',
    "empty object": "{}",
}
# Whole bodies.
JSON_BODIES = {
    "100,000 levels": b"[" * 100_000 + b"]" * 100_000,
    "unclosed": b'{"a": [1, 2',
    "not UTF-8": b'{"a": "\xe9"}',
    "a bare number": b"1e400",
}
# Path parameters (already percent-encoded where it matters).
IDS = {
    "8,000 characters": "x" * 8_000,
    "4,000 non-ASCII": quote("é" * 4_000),
    "400 digits": "9" * 400,
    "NUL": "%00",
    "controls": "%01%1F%7F%C2%85",
    "dot segments": "..%2F..%2Fetc",
    "Windows device": "CON",
}
# Header sets, sent byte for byte (an HTTP client library would refuse some) with the operation's
# otherwise valid request; {token} is the caller's token.
HEADERS: dict[str, list[tuple[bytes, bytes]]] = {
    "TAB in the token": [(b"Authorization", b"Bearer \t{token}")],
    "0xE9 in the token": [(b"Authorization", b"Bearer \xe9{token}")],
    "NUL in the token": [(b"Authorization", b"Bearer {token}\x00")],
    "8 KiB token": [(b"Authorization", b"Bearer " + b"x" * 8_192)],
    "control bytes elsewhere": [(b"X-Request-Id", b"\x01\x7f\xe9"), (b"Accept-Language", b"\x85")],
    "If-Match empty": [(b"If-Match", b'""')],
    "If-Match commas": [(b"If-Match", b",,,")],
    "If-Match long": [(b"If-Match", b'"' + b"x" * 4_000 + b'"')],
    "If-None-Match weak": [(b"If-None-Match", b'W/"nope"')],
    "If-None-Match garbage": [(b"If-None-Match", b"\x01garbage, *, ")],
    "If-Range garbage": [(b"If-Range", b"garbage"), (b"Range", b"bytes=0-1")],
    "If-Range date": [(b"If-Range", b"Mon, 99 Foo 9999 99:99:99 GMT"), (b"Range", b"bytes=5-")],
    "Range beyond int64": [(b"Range", b"bytes=9223372036854775808-")],
    "Range of 5,000 digits": [(b"Range", b"bytes=" + b"9" * 5_000 + b"-")],
    "Range reversed": [(b"Range", b"bytes=5-1")],
    "Range empty": [(b"Range", b"bytes=-")],
    "Range of another unit": [(b"Range", b"items=0-1")],
    "Range of many parts": [(b"Range", b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(500)))],
    "Content-Type garbage": [(b"Content-Type", b"application/json\t;charset=\xe9")],
}

_HOLE = "\u0000hole\u0000"


@dataclass(frozen=True)
class Request:
    label: str
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "anyOf" in schema:  # X | None: the non-null branch
        branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
        schema = _resolve(branches[0], spec) if branches else {}
    return schema


def _minimal(
    schema: dict[str, Any], spec: dict[str, Any], leaves: list[tuple[Any, ...]], path: tuple[Any, ...]
) -> Any:
    """A minimal valid-looking instance of `schema`; the path of every leaf is added to `leaves`."""
    schema = _resolve(schema, spec)
    kind = schema.get("type")
    if "enum" in schema:
        leaves.append(path)
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if not properties:  # free-form JSON (an explanation, options, metadata)
            leaves.append((*path, "k"))
            return {"k": 1}
        return {name: _minimal(sub, spec, leaves, (*path, name)) for name, sub in properties.items()}
    if kind == "array":
        return [_minimal(schema.get("items") or {}, spec, leaves, (*path, 0))]
    leaves.append(path)
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return "x" * max(1, schema.get("minLength", 1))


def _with_hole(instance: Any, path: tuple[Any, ...]) -> str:
    """The instance as JSON text with the value at `path` replaced by a placeholder."""
    if not path:
        return json.dumps(_HOLE)
    copy = json.loads(json.dumps(instance))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _HOLE
    return json.dumps(copy)


def bodies(operation: dict[str, Any], spec: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Each hostile value at each leaf of a minimal body, and each hostile whole body."""
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "application/json" not in content:
        return
    leaves: list[tuple[Any, ...]] = []
    instance = _minimal(content["application/json"].get("schema") or {}, spec, leaves, ())
    for leaf in leaves:
        text = _with_hole(instance, leaf)
        for name, raw in JSON_VALUES.items():
            yield (
                f"{name} at {'.'.join(map(str, leaf)) or 'body'}",
                text.replace(json.dumps(_HOLE), raw).encode(),
            )
    yield from JSON_BODIES.items()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation; deletions last, so the ids stay valid."""
    found = [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    yield from sorted(found, key=lambda item: item[0] == "DELETE")


def fill(template: str, ids: dict[str, str], default: str) -> str:
    """The path with each {param} from `ids` (a real id of that kind) or `default`."""
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end]
        path = path[:start] + ids.get(name, default) + path[end + 1 :]
    return path


def requests(spec: dict[str, Any], ids: dict[str, str], token: str) -> Iterator[Request]:
    """The whole catalogue, operation by operation."""
    auth = [(b"Authorization", f"Bearer {token}".encode())]
    json_type = [(b"Content-Type", b"application/json")]
    for method, template, operation in operations(spec):
        valid_path = fill(template, ids, "x")
        label = f"{method} {template}"
        if "{" in template:
            for name, value in IDS.items():
                yield Request(f"{label} [id: {name}]", method, fill(template, {}, value), auth, b"")
        for name, body in bodies(operation, spec):
            yield Request(f"{label} [body: {name}]", method, valid_path, auth + json_type, body)
        for name, headers in HEADERS.items():
            rendered = [(key, value.replace(b"{token}", token.encode())) for key, value in headers]
            if not any(key == b"Authorization" for key, _ in rendered):
                rendered = auth + rendered
            yield Request(f"{label} [headers: {name}]", method, valid_path, rendered, b"")


def send(host: str, port: int, request: Request, *, timeout: float = 60.0) -> int:
    """Sends the request byte for byte on a new connection; the response's status code (0: none)."""
    head = [f"{request.method} {request.path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
    head += [key + b": " + value for key, value in request.headers]
    head += [b"Content-Length: %d" % len(request.body), b"Connection: close"]
    with socket.create_connection((host, port), timeout=timeout) as connection:
        # The server may answer and close before the body is through: read its answer all the same.
        with contextlib.suppress(OSError):
            connection.sendall(b"\r\n".join(head) + b"\r\n\r\n" + request.body)
        received = b""
        while b"\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line = received.split(b"\r\n", 1)[0].split()
    return int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
